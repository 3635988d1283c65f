"""What ``manage.py convert`` does besides talking to the terminal: its account, its waits, its files.

Operator jobs (no ``--user``) belong to one dedicated account,
``operator@ebookvoice.invalid``: a non-routable address (RFC 2606) that can
never receive mail or sign in (unusable password, inactive, not staff).
It is made on first use and never holds credits; its books and conversions
stay in the database as the record of what operators converted.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction

from accounts.models import User
from audiobooks.errors import BookError
from audiobooks.models import Book, Conversion, ConversionChapter
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from credits.models import Plan
from credits.services import credit_account_plan_set

OPERATOR_EMAIL = "operator@ebookvoice.invalid"
# Characters no file system or shell should have to deal with in a name.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
MAX_NAME_BYTES = 150  # well under the 255 bytes most file systems allow, leaving room for " - " and ".mp3"
# A row read ten times a second: small next to the start-up it shortens (ingestion of a short
# book takes a fraction of a second).
INGEST_POLL_S = 0.1


@transaction.atomic
def operator_account_ensure() -> User:
    """The account that owns operator jobs, created on first use; it cannot sign in.

    It is on the premium plan: its uploads and deliverables count against a
    quota like anyone's (staff can delete old operator books in the admin),
    and the free plan's would stop ``convert`` after a few dozen hours of audio.
    """
    user, created = User.objects.get_or_create(
        email=OPERATOR_EMAIL,
        defaults={
            "password": make_password(None),  # unusable
            "is_active": False,
            "is_staff": False,
            "is_superuser": False,
            "notify_by_email": False,
        },
    )
    if created:
        credit_account_plan_set(user=user, plan=Plan.PREMIUM)
    return user


def safe_filename(text: str, *, fallback: str = "audiobook") -> str:
    """``text`` as one file name: no separators or control characters, not hidden, not too long."""
    name = " ".join(_UNSAFE.sub(" ", text).split()).strip(" .")
    while len(name.encode()) > MAX_NAME_BYTES:
        name = name[:-1].rstrip(" .")
    return name or fallback


def book_wait_until_read(book: Book, *, check: Callable[[], None]) -> Book:
    """Wait for the light worker to ingest ``book``; raises ``BookError`` with its message when it fails.

    ``check`` runs on every poll, so dead workers end the wait.
    """
    while book.status not in (Book.Status.READY, Book.Status.FAILED):
        check()
        time.sleep(INGEST_POLL_S)
        book.refresh_from_db(fields=["status", "error_message", "title"])
    book.refresh_from_db()
    if book.status == Book.Status.FAILED:
        raise BookError(book.error_message)
    return book


def chapters_to_convert(book: Book) -> list[int]:
    """The chapters the web page selects by default (front and back matter left out), else all."""
    chapters = list(book.chapters.order_by("index").values_list("index", "included"))
    return [index for index, included in chapters if included] or [index for index, _ in chapters]


@dataclass
class Written:
    """What was copied out of storage, and how much audio it holds."""

    m4b: Path | None = None
    mp3: list[Path] = field(default_factory=list)
    captions: list[Path] = field(default_factory=list)
    audio_ms: int = 0


def _download(key: str, target: Path) -> None:
    # Through a hidden temporary name: an interrupted copy never looks finished.
    partial = target.with_name(f".{target.name}.part")
    backend.object_download(key, partial)
    os.replace(partial, target)


def deliverables_write(conversion: Conversion, out_dir: Path) -> Written:
    """Copy the ready chapters (MP3 and captions) and, once completed, the M4B into ``out_dir``."""
    book = conversion.book
    ids = storage_keys.deliverable_ids(conversion)
    conversion_chapters = list(conversion.selections.select_related("chapter").order_by("position"))
    width = max(2, len(str(len(conversion_chapters))))
    written = Written()
    for conversion_chapter in conversion_chapters:
        if conversion_chapter.status != ConversionChapter.Status.READY:
            continue
        number = conversion_chapter.number
        mp3 = out_dir / "mp3" / f"{number:0{width}d} - {safe_filename(conversion_chapter.chapter.title)}.mp3"
        vtt = out_dir / "captions" / f"{number:0{width}d}.vtt"
        mp3.parent.mkdir(parents=True, exist_ok=True)
        vtt.parent.mkdir(parents=True, exist_ok=True)
        _download(storage_keys.mp3_key(**ids, number=number), mp3)
        _download(storage_keys.captions_key(**ids, number=number), vtt)
        written.mp3.append(mp3)
        written.captions.append(vtt)
        written.audio_ms += conversion_chapter.duration_ms or 0
    if conversion.status == Conversion.Status.COMPLETED:
        written.m4b = out_dir / f"{safe_filename(book.display_title)}.m4b"
        _download(storage_keys.m4b_key(**ids), written.m4b)
        written.audio_ms = conversion.duration_ms or written.audio_ms
    return written
