"""Writes and workflows for books: upload (streamed or direct), ingestion, deletion.

A conversion's life, from submission on, is ``audiobooks.pipeline``'s.
"""

from __future__ import annotations

import logging
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from pathlib import Path, PurePath
from uuid import UUID

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from credits.selectors import upload_check
from ebookvoice import enqueue
from ebookvoice.errors import TRANSIENT_ERRORS

from . import availability
from .errors import BookError, UnsupportedFileType
from .ingest import IngestError, StreamedBook, open_book
from .ingest.covers import Cover, generated_cover
from .models import Book, Chapter, StoredObject
from .selectors import book_get_for_user, storage_used_bytes
from .storage import backend, links
from .storage import keys as storage_keys
from .storage.conf import upload_expiry
from .storage.errors import UploadExpired, UploadIncomplete, UploadMismatch, UploadNotFound
from .storage.headers import UPLOAD_CONTENT_TYPES, content_type_for
from .storage.services import objects_delete_after_commit, owner_lock_and_check_upload

logger = logging.getLogger(__name__)

# A book whose ingestion killed its worker this often (out of memory, say) is
# failed rather than handed to yet another worker.
MAX_INGEST_ATTEMPTS = 3
# How long one run may hold a book it is reading: far longer than any parse, far
# shorter than the broker's redelivery of a task whose worker died (six hours).
INGEST_LEASE = timedelta(hours=1)
INTERNAL_ERROR_MESSAGE = (
    "Something went wrong on our side while reading this book. We have been told about it; "
    "please try uploading it again later."
)
TOO_MANY_ATTEMPTS_MESSAGE = (
    "This book could not be read: every attempt to read it stopped part-way. "
    "Please try another copy of the book."
)


# Bidirectional overrides and isolates: they make "koobe.exe" display as "exe.ebook".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def stored_filename(filename: str) -> str:
    """The name a file is kept under: its last path part, without control characters, at most 255.

    CR, LF, NUL and the other control characters (and bidirectional
    overrides) would reach headers, logs and pages; a name left empty is "book".
    """
    name = PurePath(filename).name
    cleaned = "".join(
        " " if char in "\t\n\r" else char
        for char in name
        if char in "\t\n\r" or (unicodedata.category(char) != "Cc" and char not in _BIDI_CONTROLS)
    )
    return " ".join(cleaned.split())[:255] or "book"


def _upload_extension(filename: str) -> str:
    extension = PurePath(filename).suffix.lower().lstrip(".")
    if extension not in storage_keys.UPLOAD_EXTENSIONS:
        raise UnsupportedFileType(
            "This file type isn't supported. Please upload an EPUB, PDF, TXT or HTML file."
        )
    return extension


def _upload_content_type(extension: str, announced: str | None = None) -> str:
    allowed = UPLOAD_CONTENT_TYPES[extension]
    if announced is None:
        return allowed[0]
    if announced.split(";", 1)[0].strip().lower() not in allowed:
        raise UnsupportedFileType(
            f"A .{extension} file must be sent as {allowed[0]}, not {announced or 'no type'}."
        )
    return announced


def book_create_from_upload(*, owner: User, upload: File, filename: str) -> Book:
    """Store an uploaded file under a server-made key, record it, and queue its ingestion.

    The size cap and the owner's storage quota are checked before anything is
    written, and again, exactly, under the owner's lock once the file is
    stored; a refused file is deleted again.
    """
    availability.refuse_new_work_in_maintenance()
    extension = _upload_extension(filename)
    content_type = _upload_content_type(extension)
    upload_check(user=owner, size_bytes=upload.size, storage_used_bytes=storage_used_bytes(user=owner))
    key = storage_keys.upload_key(user_uuid=owner.uuid, extension=extension)
    size = backend.object_put(key, upload, content_type=content_type)
    try:
        with transaction.atomic(durable=True):
            owner_lock_and_check_upload(owner=owner, size_bytes=size)
            book = _book_create(owner=owner, key=key, filename=filename, size=size)
            StoredObject.objects.create(
                key=key,
                owner=owner,
                book=book,
                kind=StoredObject.Kind.ORIGINAL,
                size=size,
                content_type=content_type,
                filename=book.original_filename,
            )
    except BaseException:
        backend.objects_delete([key])
        raise
    return book


def _book_create(*, owner: User, key: str, filename: str, size: int) -> Book:
    book = Book.objects.create(
        owner=owner, original_key=key, original_filename=stored_filename(filename), original_size=size
    )
    enqueue.send_on_commit("audiobooks.ingest_book", book.id)
    return book


@dataclass(frozen=True)
class DirectUpload:
    """What a client needs to upload a file straight to storage."""

    upload_id: UUID
    url: str  # PUT the file here, with exactly ``headers``
    headers: dict[str, str]
    url_expires_at: datetime  # start the PUT before this
    finish_by: datetime  # call finish before this, or the upload is deleted


def upload_start(*, user: User, filename: str, size: int, content_type: str) -> DirectUpload:
    """Reserve room for a direct upload and sign a PUT for it (Content-Type and Content-Length signed).

    The declared size counts against the user's quota until the upload is
    finished or expires (``STORAGE_UPLOAD_EXPIRY_MINUTES``; ``purge_expired``
    deletes it).
    """
    availability.refuse_new_work_in_maintenance()
    extension = _upload_extension(filename)
    content_type = _upload_content_type(extension, content_type)
    if size <= 0:
        raise BookError("This file is empty.")
    key = storage_keys.upload_key(user_uuid=user.uuid, extension=extension)
    with transaction.atomic(durable=True):
        owner_lock_and_check_upload(owner=user, size_bytes=size)
        pending = StoredObject.objects.create(
            key=key,
            owner=user,
            kind=StoredObject.Kind.ORIGINAL,
            size=size,
            content_type=content_type,
            filename=stored_filename(filename),
            expires_at=timezone.now() + upload_expiry(),
        )
    link = links.upload_link(key=key, content_type=content_type, size=size)
    assert pending.expires_at is not None
    return DirectUpload(
        upload_id=pending.uuid,
        url=link.url,
        headers=link.headers,
        url_expires_at=link.expires_at,
        finish_by=pending.expires_at,
    )


def upload_finish(*, user: User, upload_id: UUID) -> Book:
    """Check the uploaded object with a HEAD (size, type), then make the book and queue ingestion.

    Safe to repeat: finishing a finished upload returns its book. Another
    user's upload is ``UploadNotFound``, like one that never existed.
    """
    pending = StoredObject.objects.filter(owner=user, uuid=upload_id, kind=StoredObject.Kind.ORIGINAL).first()
    if pending is None:
        raise UploadNotFound()
    if pending.book_id is not None:
        return Book.objects.get(pk=pending.book_id)
    if pending.expires_at is None or pending.expires_at <= timezone.now():
        raise UploadExpired()

    head = backend.object_head(pending.key)
    if head is None:
        raise UploadIncomplete()
    problem = ""
    if head.size != pending.size:
        problem = f"it has {head.size:,} bytes, not the {pending.size:,} announced"
    elif head.content_type is not None and head.content_type != pending.content_type:
        problem = f"it was sent as {head.content_type}, not {pending.content_type}"
    if problem:
        _upload_abandon(pending_id=pending.pk, key=pending.key)
        raise UploadMismatch(problem)

    with transaction.atomic(durable=True):
        locked = StoredObject.objects.select_for_update().filter(pk=pending.pk).first()
        if locked is None:  # purged as it expired
            raise UploadExpired()
        if locked.book_id is not None:  # finished by a concurrent call
            return Book.objects.get(pk=locked.book_id)
        book = _book_create(owner=user, key=locked.key, filename=locked.filename, size=head.size)
        locked.book = book
        locked.expires_at = None
        locked.save(update_fields=["book", "expires_at"])
    return book


def _upload_abandon(*, pending_id: int, key: str) -> None:
    with transaction.atomic(durable=True):
        StoredObject.objects.filter(pk=pending_id, book__isnull=True).delete()
    objects_delete_after_commit(keys=[key])


def book_delete(*, user: User, book_uuid: UUID) -> None:
    """Delete the user's book and every object that belongs to it; another user's book is a 404.

    Rows go in the transaction (the quota is freed at once), the objects after
    it: the original, the cover and everything under the book's folder.
    """
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    with transaction.atomic(durable=True):
        locked = Book.objects.select_for_update().filter(pk=book.pk).first()
        if locked is None:
            return  # deleted by a concurrent request
        keys, prefix = _book_delete_rows(locked)
    objects_delete_after_commit(keys=keys, prefixes=[prefix])


def book_delete_in_admin(*, book: Book) -> None:
    """``book_delete`` for the admin, whose delete views run inside their own transaction.

    The rows go in that transaction; the objects once it commits.
    """
    keys, prefix = _book_delete_rows(book)
    transaction.on_commit(partial(objects_delete_after_commit, keys=keys, prefixes=[prefix]), robust=True)


def _book_delete_rows(book: Book) -> tuple[list[str], str]:
    """Delete the book and its rows; return the keys and the folder whose objects must go."""
    keys = set(StoredObject.objects.filter(book=book).values_list("key", flat=True))
    keys |= {key for key in (book.original_key, book.cover_key) if key}
    prefix = storage_keys.book_prefix(user_uuid=book.owner.uuid, book_uuid=book.uuid)
    StoredObject.objects.filter(book=book).delete()
    book.delete()
    return sorted(keys), prefix


def book_ingest(*, book_id: int) -> None:
    """Read a book's original into chapters; idempotent, safe to run again.

    The parse and the chapter plan are made outside any transaction (they can take
    seconds); the chapters are then written in one transaction, in batches as their
    text is read back, replacing whatever an earlier attempt left. Memory stays that
    of a batch of chapters, whatever the book's size.

    One run at a time holds the book (``INGEST_LEASE``): a second delivery of the
    task while the first still reads it returns at once, so the two never write the
    same cover. The lease is let go when the run ends, so a retry after a transient
    error claims the book again; a run whose worker died holds it until it expires.
    """
    now = timezone.now()
    lease_until = now + INGEST_LEASE
    free = Q(status=Book.Status.UPLOADED) | Q(
        Q(ingest_lease_until__isnull=True) | Q(ingest_lease_until__lt=now), status=Book.Status.INGESTING
    )
    claimed = Book.objects.filter(free, id=book_id).update(
        status=Book.Status.INGESTING, ingest_attempts=F("ingest_attempts") + 1, ingest_lease_until=lease_until
    )
    if not claimed:
        return  # already read, failed, deleted, or being read by another run: nothing to do
    try:
        _book_ingest_claimed(book_id=book_id)
    finally:
        Book.objects.filter(id=book_id, ingest_lease_until=lease_until).update(ingest_lease_until=None)


def _book_ingest_claimed(*, book_id: int) -> None:
    book = Book.objects.get(id=book_id)
    if book.ingest_attempts > MAX_INGEST_ATTEMPTS:
        _book_fail(book_id=book_id, code="too_many_attempts", message=TOO_MANY_ATTEMPTS_MESSAGE)
        return

    cover_key = ""
    with tempfile.TemporaryDirectory(prefix="ebv-ingest-") as workdir:
        path = Path(workdir) / PurePath(book.original_key).name
        backend.object_download(book.original_key, path)
        try:
            # Read and planned here, outside any transaction; the chapters' text is read
            # back from the on-disk spool one chapter at a time while they are stored.
            with open_book(path, filename=book.original_filename) as streamed:
                cover_key, cover_size, origin = _store_cover(book, streamed)
                _book_store_ingested(
                    book_id=book_id, streamed=streamed, cover=(cover_key, cover_size), cover_origin=origin
                )
        except IngestError as error:
            _forget_unrecorded_cover(cover_key)
            _book_fail(book_id=book_id, code=str(error.code), message=error.message)
        except TRANSIENT_ERRORS:
            raise  # the database or storage out of reach for a moment: the task retries
        except Exception:
            # A bug of ours, not the user's file: log it, tell the user plainly.
            logger.exception("ingestion crashed", extra={"book_id": book_id})
            _forget_unrecorded_cover(cover_key)
            _book_fail(book_id=book_id, code="internal", message=INTERNAL_ERROR_MESSAGE)


def _store_cover(book: Book, streamed: StreamedBook) -> tuple[str, int, str]:
    """Store the book's own cover, or one drawn from its title and authors: (key, size, origin)."""
    media_type = streamed.cover_media_type or ""
    if streamed.cover and media_type in storage_keys.COVER_EXTENSIONS:
        cover = Cover(streamed.cover, media_type, streamed.cover_width, streamed.cover_height)
        origin = Book.CoverOrigin.BOOK
    else:
        cover = generated_cover(streamed.title, list(streamed.authors))
        origin = Book.CoverOrigin.GENERATED
    key = storage_keys.cover_key(user_uuid=book.owner.uuid, book_uuid=book.uuid, media_type=cover.media_type)
    return key, backend.object_put(key, ContentFile(cover.data), content_type=cover.media_type), str(origin)


def _forget_unrecorded_cover(cover_key: str) -> None:
    """A cover stored by an attempt that then failed is no one's unless a row records it."""
    if cover_key and not StoredObject.objects.filter(key=cover_key).exists():
        objects_delete_after_commit(keys=[cover_key])


def _book_store_ingested(
    *, book_id: int, streamed: StreamedBook, cover: tuple[str, int], cover_origin: str
) -> None:
    cover_key, cover_size = cover
    stale: list[str] = []
    with transaction.atomic(durable=True):
        book = Book.objects.select_for_update().filter(id=book_id).first()
        if book is None or book.status != Book.Status.INGESTING:
            # Deleted (or finished) while we read it: the cover just written is no one's.
            stale = [cover_key] if cover_key and book is None else []
        else:
            stale = _book_replace_chapters(
                book, streamed, cover_key=cover_key, cover_size=cover_size, cover_origin=cover_origin
            )
    if stale:
        objects_delete_after_commit(keys=stale)


# Chapters are written this many at a time, so a book of thousands of sections is a
# few dozen inserts that never hold more than this many chapters' text at once.
CHAPTER_BATCH = 200


def _book_replace_chapters(
    book: Book, streamed: StreamedBook, *, cover_key: str, cover_size: int, cover_origin: str
) -> list[str]:
    """Write what ingestion read; returns keys of covers an earlier attempt stored and this one did not."""
    book.chapters.all().delete()
    rows = (
        Chapter(
            book=book,
            index=index,
            title=chapter.title[:500],
            text=chapter.text,
            words=chapter.words,
            chars=chapter.chars,
            included=chapter.included,
            exclusion_reason=chapter.reason[:200],
            group=chapter.group,
            section=chapter.section,
            group_title=chapter.group_title[:500],
        )
        for index, chapter in enumerate(streamed.chapters)
    )
    while batch := list(islice(rows, CHAPTER_BATCH)):
        Chapter.objects.bulk_create(batch)
    old_covers = StoredObject.objects.filter(book=book, kind=StoredObject.Kind.COVER).exclude(key=cover_key)
    stale = list(old_covers.values_list("key", flat=True))
    old_covers.delete()
    if cover_key:
        StoredObject.objects.update_or_create(
            key=cover_key,
            defaults={
                "owner_id": book.owner_id,
                "book": book,
                "kind": StoredObject.Kind.COVER,
                "size": cover_size,
                "content_type": content_type_for(cover_key),
                "filename": "",
            },
        )
    book.status = Book.Status.READY
    book.format = str(streamed.format)
    book.title = streamed.title[:500]
    book.authors = list(streamed.authors)
    book.contributors = [{"name": name, "role": role} for name, role in streamed.contributors]
    book.language = streamed.language[:35]
    book.warnings = list(streamed.warnings)
    book.cover_key = cover_key
    book.cover_origin = cover_origin if cover_key else ""
    book.error_code = ""
    book.error_message = ""
    book.ingested_at = timezone.now()
    book.save(
        update_fields=[
            "status", "format", "title", "authors", "contributors", "language", "warnings", "cover_key",
            "cover_origin", "error_code", "error_message", "ingested_at", "updated_at",
        ]
    )  # fmt: skip
    return stale


@transaction.atomic(durable=True)
def _book_fail(*, book_id: int, code: str, message: str) -> None:
    Book.objects.filter(id=book_id).update(
        status=Book.Status.FAILED, error_code=code[:40], error_message=message
    )
