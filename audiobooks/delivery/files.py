"""What a conversion has produced so far, with short-lived links to each file (reads only).

A chapter's MP3 and captions are offered once the chapter is ready, the M4B
once the conversion is completed, and the ready chapters' MP3s as one zip
(``mp3_zip``, written on the fly by ``web.downloads.signed_mp3_zip``) once
there is one. Links come from ``storage.links`` (presigned
on S3, signed by this app locally) and are made only after the ownership
check of ``conversion_get_for_user``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from accounts.models import User
from audiobooks.models import Book, Conversion, ConversionChapter, StoredObject
from audiobooks.selectors import conversion_get_for_user
from audiobooks.storage import keys as storage_keys
from audiobooks.storage import links
from audiobooks.storage.headers import attachment_name, content_type_for
from audiobooks.storage.links import Link


@dataclass(frozen=True)
class FileLink:
    url: str  # relative to this site in local mode: the caller makes it absolute
    expires_at: datetime
    content_type: str
    size: int


@dataclass(frozen=True)
class ChapterFiles:
    number: int
    title: str
    status: str
    duration_ms: int | None
    mp3: FileLink | None
    captions: FileLink | None


@dataclass(frozen=True)
class ArchiveLink:
    """A link to a zip this app writes while it sends it: its size is not known beforehand."""

    url: str  # relative to this site: the caller makes it absolute
    expires_at: datetime
    content_type: str
    files: int


@dataclass(frozen=True)
class ConversionFiles:
    conversion: Conversion
    m4b: FileLink | None
    chapters: list[ChapterFiles]
    mp3_zip: ArchiveLink | None = None


def _link(stored: StoredObject | None, filename: str) -> FileLink | None:
    if stored is None:
        return None
    link = links.download_link(
        key=stored.key,
        filename=attachment_name(stored.filename or filename),
        content_type=stored.content_type,
    )
    return FileLink(link.url, link.expires_at, stored.content_type, stored.size)


def conversion_files_for_user(*, user: User, conversion_uuid: UUID) -> ConversionFiles:
    """The user's conversion's files, each with a fresh link; another user's conversion is a 404."""
    conversion = conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)
    book = conversion.book
    conversion_chapters = list(conversion.selections.select_related("chapter").order_by("position"))
    ready = [s for s in conversion_chapters if s.status == ConversionChapter.Status.READY]
    ids = storage_keys.deliverable_ids(conversion)
    keys = {
        "m4b": storage_keys.m4b_key(**ids),
        **{f"mp3:{s.number}": storage_keys.mp3_key(**ids, number=s.number) for s in ready},
        **{f"vtt:{s.number}": storage_keys.captions_key(**ids, number=s.number) for s in ready},
    }
    stored = {
        row.key: row for row in StoredObject.objects.filter(owner=user, book=book, key__in=keys.values())
    }
    title = book.display_title
    m4b = None
    if conversion.status == Conversion.Status.COMPLETED:
        m4b = _link(stored.get(keys["m4b"]), f"{title}.m4b")
    chapters = []
    for conversion_chapter in conversion_chapters:
        is_ready = conversion_chapter.status == ConversionChapter.Status.READY
        number = f"{conversion_chapter.number:02d}"
        chapters.append(
            ChapterFiles(
                number=conversion_chapter.number,
                title=conversion_chapter.chapter.title,
                status=conversion_chapter.status,
                duration_ms=conversion_chapter.duration_ms,
                mp3=_link(
                    stored.get(keys.get(f"mp3:{conversion_chapter.number}", "")), f"{title} - {number}.mp3"
                )
                if is_ready
                else None,
                captions=_link(
                    stored.get(keys.get(f"vtt:{conversion_chapter.number}", "")), f"{title} - {number}.vtt"
                )
                if is_ready
                else None,
            )
        )
    mp3s = sum(1 for row in stored.values() if row.kind == StoredObject.Kind.MP3)
    mp3_zip = None
    if mp3s:
        link = links.archive_link(conversion_uuid=conversion.uuid, owner_uuid=user.uuid)
        mp3_zip = ArchiveLink(link.url, link.expires_at, "application/zip", mp3s)
    return ConversionFiles(conversion=conversion, m4b=m4b, chapters=chapters, mp3_zip=mp3_zip)


def cover_link(book: Book) -> Link | None:
    """A short-lived inline link to the book's cover, or None when it has none (the caller checked access)."""
    if not book.cover_key:
        return None
    extension = book.cover_key.rsplit(".", 1)[-1]
    return links.download_link(
        key=book.cover_key,
        filename=attachment_name(f"{book.display_title} cover.{extension}"),
        content_type=content_type_for(book.cover_key),
        disposition="inline",
    )
