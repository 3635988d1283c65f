from __future__ import annotations

import io
import tracemalloc
from datetime import timedelta
from pathlib import Path

import botocore.exceptions
import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Count, Sum
from django.utils import timezone

from audiobooks.errors import UnsupportedFileType
from audiobooks.models import Book
from audiobooks.services import (
    CHAPTER_BATCH,
    INGEST_LEASE,
    MAX_INGEST_ATTEMPTS,
    book_create_from_upload,
    book_ingest,
)
from audiobooks.storage import backend
from audiobooks.tests.factories import CORPUS, ingest_now, upload_file
from audiobooks.tests.prose_fixtures import MiB, write_prose

pytestmark = pytest.mark.django_db

LATIN1 = CORPUS / "good" / "probe_latin1_chapter.epub"
LONG_BOOK_MB = 30


def upload_and_ingest(owner, path, django_capture_on_commit_callbacks, **kwargs) -> Book:
    with django_capture_on_commit_callbacks() as callbacks:
        book = upload_file(owner, path, **kwargs)
    assert len(callbacks) == 1, "ingestion is queued once, after the upload commits"
    return ingest_now(book)


def test_an_upload_is_stored_under_a_server_made_key_never_the_users_filename(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        book = upload_file(owner, LATIN1, filename="../../evil name.epub")
    assert book.original_key.startswith(f"users/{owner.uuid}/uploads/")
    assert book.original_key.endswith(".epub")
    assert "evil" not in book.original_key
    assert book.original_filename == "evil name.epub"
    assert default_storage.exists(book.original_key)
    assert book.status == Book.Status.UPLOADED


def test_an_unsupported_file_type_is_refused_before_anything_is_stored(owner):
    with pytest.raises(UnsupportedFileType, match="Please upload an EPUB, PDF, TXT or HTML file"):
        book_create_from_upload(owner=owner, upload=File(io.BytesIO(b"MZ")), filename="setup.exe")
    assert not Book.objects.exists()


def test_sherlock_holmes_becomes_a_ready_book_with_its_stories_as_chapters(
    owner, django_capture_on_commit_callbacks
):
    sherlock = CORPUS / "good" / "sherlock-holmes.epub"
    book = upload_and_ingest(owner, sherlock, django_capture_on_commit_callbacks)
    assert book.status == Book.Status.READY
    assert book.title == "The Adventures of Sherlock Holmes"
    assert book.language == "en-GB"
    assert book.format == "epub"
    chapters = list(book.chapters.all())
    assert [chapter.index for chapter in chapters] == list(range(len(chapters)))
    titles = [chapter.title for chapter in chapters]
    assert "A Scandal in Bohemia" in titles
    assert "The Adventure of the Copper Beeches" in titles
    stories = [chapter for chapter in chapters if chapter.included]
    assert len(stories) == 12
    assert all(chapter.words > 6000 for chapter in stories)
    assert not {"Titlepage", "Imprint", "Colophon", "Uncopyright"} & {c.title for c in stories}
    assert all(chapter.exclusion_reason for chapter in chapters if not chapter.included)


def test_a_hostile_file_fails_with_its_specific_message_and_no_chapters(
    owner, django_capture_on_commit_callbacks
):
    book = upload_and_ingest(
        owner, CORPUS / "bad" / "probe_encrypted_chapter.epub", django_capture_on_commit_callbacks
    )
    assert book.status == Book.Status.FAILED
    assert book.error_code == "drm"
    assert "DRM" in book.error_message
    assert not book.chapters.exists()


def test_a_tolerated_defect_is_kept_as_a_warning_on_a_ready_book(owner, django_capture_on_commit_callbacks):
    book = upload_and_ingest(
        owner,
        CORPUS / "tolerated" / "epubcheck_ocf-mimetype-file-missing-error.epub",
        django_capture_on_commit_callbacks,
    )
    assert book.status == Book.Status.READY
    assert book.warnings
    assert any("mimetype" in warning for warning in book.warnings)


def test_a_markup_title_is_stored_as_literal_text(owner, django_capture_on_commit_callbacks):
    xss = CORPUS / "good" / "probe_xss_title.epub"
    book = upload_and_ingest(owner, xss, django_capture_on_commit_callbacks)
    assert book.title == "<script>alert(1)</script>"


def test_ingesting_twice_leaves_one_set_of_chapters(owner, django_capture_on_commit_callbacks):
    book = upload_and_ingest(owner, LATIN1, django_capture_on_commit_callbacks)
    Book.objects.filter(id=book.id).update(status=Book.Status.INGESTING)
    book_ingest(book_id=book.id)
    book.refresh_from_db()
    assert book.status == Book.Status.READY
    assert [chapter.text for chapter in book.chapters.all()] == ["café naïve"]


def test_a_finished_book_is_not_read_again_when_its_task_is_redelivered(
    owner, django_capture_on_commit_callbacks
):
    book = upload_and_ingest(owner, LATIN1, django_capture_on_commit_callbacks)
    book_ingest(book_id=book.id)
    book.refresh_from_db()
    assert book.ingest_attempts == 1


def test_a_book_another_run_is_reading_is_left_to_it(owner, django_capture_on_commit_callbacks):
    """A second delivery of the task beside the first must not write the same cover under it."""
    with django_capture_on_commit_callbacks():
        book = upload_file(owner, LATIN1)
    held_until = timezone.now() + INGEST_LEASE
    Book.objects.filter(id=book.id).update(
        status=Book.Status.INGESTING, ingest_attempts=1, ingest_lease_until=held_until
    )
    book_ingest(book_id=book.id)
    book.refresh_from_db()
    assert (book.status, book.ingest_attempts, book.ingest_lease_until) == (
        Book.Status.INGESTING, 1, held_until
    )  # fmt: skip
    assert not book.cover_key
    assert not book.chapters.exists()


def test_a_book_whose_reader_died_is_read_once_its_lease_runs_out(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        book = upload_file(owner, LATIN1)
    Book.objects.filter(id=book.id).update(
        status=Book.Status.INGESTING,
        ingest_attempts=1,
        ingest_lease_until=timezone.now() - timedelta(seconds=1),
    )
    book_ingest(book_id=book.id)
    book.refresh_from_db()
    assert (book.status, book.ingest_attempts, book.ingest_lease_until) == (Book.Status.READY, 2, None)


def test_a_read_that_storage_interrupts_lets_go_so_its_retry_can_read_the_book(
    owner, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks():
        book = upload_file(owner, LATIN1)
    real_download = backend.object_download

    def storage_away(key: str, path: Path) -> None:
        raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://r2.example")

    monkeypatch.setattr(backend, "object_download", storage_away)
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        book_ingest(book_id=book.id)
    book.refresh_from_db()
    assert (book.status, book.ingest_lease_until) == (Book.Status.INGESTING, None)

    monkeypatch.setattr(backend, "object_download", real_download)
    book_ingest(book_id=book.id)  # the task's retry
    book.refresh_from_db()
    assert (book.status, book.ingest_attempts) == (Book.Status.READY, 2)


def test_a_book_that_keeps_killing_its_worker_is_failed_with_a_message(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        book = upload_file(owner, LATIN1)
    Book.objects.filter(id=book.id).update(status=Book.Status.INGESTING, ingest_attempts=MAX_INGEST_ATTEMPTS)
    book_ingest(book_id=book.id)
    book.refresh_from_db()
    assert (book.status, book.error_code) == (Book.Status.FAILED, "too_many_attempts")
    assert "could not be read" in book.error_message


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_an_upload_is_ingested_by_a_real_light_worker(celery_worker, owner):
    import time

    book = upload_file(owner, CORPUS / "good" / "probe_utf16_chapter.epub")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        book.refresh_from_db()
        if book.status in (Book.Status.READY, Book.Status.FAILED):
            break
        time.sleep(0.2)
    assert book.status == Book.Status.READY, book.error_message
    assert [chapter.text for chapter in book.chapters.all()] == ["café"]


def test_reading_a_book_moves_no_credits_whether_it_succeeds_or_fails(
    owner, django_capture_on_commit_callbacks
):
    from credits.models import CreditEntry

    upload_and_ingest(owner, LATIN1, django_capture_on_commit_callbacks)
    upload_and_ingest(owner, CORPUS / "bad" / "probe_no_spine.epub", django_capture_on_commit_callbacks)
    assert not CreditEntry.objects.exists()


def test_a_long_book_is_stored_a_batch_of_chapters_at_a_time_never_whole_in_memory(owner, tmp_path):
    # 30 MB of headingless prose: about a thousand 30-minute parts, stored in several batches.
    # Held whole (as a list of chapters, or in one insert), its text alone would fill the budget.
    path = tmp_path / "long.txt"
    words = write_prose(path, LONG_BOOK_MB)
    book = upload_file(owner, path)
    tracemalloc.start()
    try:
        book_ingest(book_id=book.id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    book.refresh_from_db()
    assert book.status == Book.Status.READY, book.error_message
    # A batch costs about three times its text (the rows, the query's parameters, its bytes):
    # about 20 MB here, where the book's text alone is 30.
    assert peak < LONG_BOOK_MB * MiB
    groups = Count("group", distinct=True)
    stored = book.chapters.aggregate(rows=Count("id"), words=Sum("words"), groups=groups)
    assert stored == {"rows": stored["rows"], "words": words, "groups": 1}
    assert stored["rows"] > 4 * CHAPTER_BATCH
