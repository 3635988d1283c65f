"""Writes and workflows for books: upload and ingestion."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path, PurePath

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User

from . import storage_keys
from .errors import UnsupportedFileType
from .ingest import IngestedBook, IngestError, ingest_file
from .models import Book, Chapter

logger = logging.getLogger(__name__)

# A book whose ingestion killed its worker this often (out of memory, say) is
# failed rather than handed to yet another worker.
MAX_INGEST_ATTEMPTS = 3
INTERNAL_ERROR_MESSAGE = (
    "Something went wrong on our side while reading this book. We have been told about it; "
    "please try uploading it again later."
)
TOO_MANY_ATTEMPTS_MESSAGE = (
    "This book could not be read: every attempt to read it stopped part-way. "
    "Please try another copy of the book."
)


def _upload_extension(filename: str) -> str:
    extension = PurePath(filename).suffix.lower().lstrip(".")
    if extension not in storage_keys.UPLOAD_EXTENSIONS:
        raise UnsupportedFileType(
            "This file type isn't supported. Please upload an EPUB, PDF, TXT or HTML file."
        )
    return extension


def book_create_from_upload(*, owner: User, upload: File, filename: str) -> Book:
    """Store an uploaded file under a server-made key and queue its ingestion."""
    extension = _upload_extension(filename)
    key = default_storage.save(storage_keys.upload_key(user_uuid=owner.uuid, extension=extension), upload)
    try:
        with transaction.atomic(durable=True):
            book = Book.objects.create(
                owner=owner,
                original_key=key,
                original_filename=PurePath(filename).name[:255],
                original_size=default_storage.size(key),
            )
            from .tasks import ingest_book

            ingest_book.delay_on_commit(book.id)  # type: ignore[attr-defined]  # celery-types lags Celery 5.4
    except BaseException:
        default_storage.delete(key)
        raise
    return book


def book_ingest(*, book_id: int) -> None:
    """Read a book's original into chapters; idempotent, safe to run again.

    The parse runs outside any transaction (it can take seconds); the result is
    written in one transaction that replaces whatever an earlier attempt left.
    """
    claimed = Book.objects.filter(
        id=book_id, status__in=(Book.Status.UPLOADED, Book.Status.INGESTING)
    ).update(status=Book.Status.INGESTING, ingest_attempts=F("ingest_attempts") + 1)
    if not claimed:
        return  # already read, failed, or deleted: nothing to do
    book = Book.objects.get(id=book_id)
    if book.ingest_attempts > MAX_INGEST_ATTEMPTS:
        _book_fail(book_id=book_id, code="too_many_attempts", message=TOO_MANY_ATTEMPTS_MESSAGE)
        return

    with tempfile.TemporaryDirectory(prefix="ebv-ingest-") as workdir:
        path = Path(workdir) / PurePath(book.original_key).name
        with default_storage.open(book.original_key, "rb") as source, path.open("wb") as target:
            shutil.copyfileobj(source, target, length=1024 * 1024)
        try:
            ingested = ingest_file(path, filename=book.original_filename)
        except IngestError as error:
            _book_fail(book_id=book_id, code=str(error.code), message=error.message)
            return
        except Exception:
            # A bug of ours, not the user's file: log it, tell the user plainly.
            logger.exception("ingestion crashed", extra={"book_id": book_id})
            _book_fail(book_id=book_id, code="internal", message=INTERNAL_ERROR_MESSAGE)
            return

    cover_key = _store_cover(book, ingested)
    _book_store_ingested(book_id=book_id, ingested=ingested, cover_key=cover_key)


def _store_cover(book: Book, ingested: IngestedBook) -> str:
    media_type = ingested.cover_media_type or ""
    if not ingested.cover or media_type not in storage_keys.COVER_EXTENSIONS:
        return ""
    key = storage_keys.cover_key(user_uuid=book.owner.uuid, book_uuid=book.uuid, media_type=media_type)
    default_storage.delete(key)
    return default_storage.save(key, ContentFile(ingested.cover))


@transaction.atomic(durable=True)
def _book_store_ingested(*, book_id: int, ingested: IngestedBook, cover_key: str) -> None:
    book = Book.objects.select_for_update().get(id=book_id)
    if book.status != Book.Status.INGESTING:
        return
    book.chapters.all().delete()
    Chapter.objects.bulk_create(
        Chapter(
            book=book,
            index=index,
            title=chapter.title[:500],
            text=chapter.text,
            words=chapter.words,
            chars=chapter.chars,
            included=chapter.included,
            exclusion_reason=chapter.reason[:200],
        )
        for index, chapter in enumerate(ingested.chapters)
    )
    book.status = Book.Status.READY
    book.format = str(ingested.format)
    book.title = ingested.title[:500]
    book.authors = list(ingested.authors)
    book.language = ingested.language[:35]
    book.warnings = list(ingested.warnings)
    book.cover_key = cover_key
    book.error_code = ""
    book.error_message = ""
    book.ingested_at = timezone.now()
    book.save()


@transaction.atomic(durable=True)
def _book_fail(*, book_id: int, code: str, message: str) -> None:
    Book.objects.filter(id=book_id).update(
        status=Book.Status.FAILED, error_code=code[:40], error_message=message
    )
