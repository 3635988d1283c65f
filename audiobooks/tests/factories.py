from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.files import File
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Book, Conversion, Part
from audiobooks.pipeline.progress import conversion_progress
from audiobooks.services import book_create_from_upload, book_ingest
from audiobooks.tests.ingest_fixtures import story_epub
from ebookvoice.paths import corpus_dir

CORPUS = corpus_dir()


def upload_file(owner: User, path: Path, *, filename: str | None = None) -> Book:
    with path.open("rb") as handle:
        return book_create_from_upload(owner=owner, upload=File(handle), filename=filename or path.name)


def ingest_now(book: Book, *, timeout: float = 60) -> Book:
    """Read ``book`` here and now, as its queued task would; return it refreshed.

    A test worker may have taken the queued task already: then this run finds the
    book held (``INGEST_LEASE``) and returns, and we wait for the worker instead.
    """
    book_ingest(book_id=book.id)
    deadline = time.monotonic() + timeout
    book.refresh_from_db()
    while book.status in (Book.Status.UPLOADED, Book.Status.INGESTING) and time.monotonic() < deadline:
        time.sleep(0.05)
        book.refresh_from_db()
    return book


def story_book(owner: User, directory: Path, *, titles: Sequence[str], **story: Any) -> Book:
    """A small EPUB of real prose (``ingest_fixtures.story_epub``), uploaded and read into chapters."""
    directory.mkdir(parents=True, exist_ok=True)
    book = ingest_now(upload_file(owner, story_epub(directory, titles=titles, **story)))
    assert book.status == Book.Status.READY, book.error_message
    return book


def wait_until_finished(conversion: Conversion, *, timeout: float = 240) -> Conversion:
    """Poll until real workers bring the conversion to a final state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conversion.refresh_from_db()
        if conversion.status in Conversion.FINISHED:
            return conversion
        time.sleep(0.25)
    raise AssertionError(f"still {conversion.status} after {timeout} s: {conversion_progress(conversion)}")


def completed_conversion(book: Book) -> Conversion:
    """A completed conversion row with no chapters: for tests that store its files themselves."""
    now = timezone.now()
    return Conversion.objects.create(
        owner=book.owner, book=book, status=Conversion.Status.COMPLETED, voice_key="piper:en_US-joe-medium",
        speed=1.0, characters=1000, charge_hundredths=0, operator_job=True, duration_ms=60_000,
        started_at=now, finished_at=now,
    )  # fmt: skip


def finish_as_workers_would(conversion: Conversion, *, duration_ms: int = 3000) -> None:
    """As the workers would leave it: every Part done, the conversion completed."""
    now = timezone.now()
    conversion.parts.update(status=Part.Status.DONE, duration_ms=1000, finished_at=now, heartbeat_at=now)
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.COMPLETED, started_at=now, finished_at=now, duration_ms=duration_ms
    )
