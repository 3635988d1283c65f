"""purge_expired and reconcile_storage, on S3 and on local storage."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from audiobooks import selectors
from audiobooks.models import Book, IdempotencyRecord, StoredObject
from audiobooks.selectors import storage_used_bytes
from audiobooks.services import book_create_from_upload
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import stored_object_save

pytestmark = pytest.mark.django_db

EPUB = b"PK\x03\x04" + b"e" * 1000
DAY = timedelta(days=1)


def _run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _age(key: str, by: timedelta) -> None:
    StoredObject.objects.filter(key=key).update(created_at=timezone.now() - by)


def _part(text: str, size: int = 500) -> StoredObject:
    digest = storage_keys.part_digest(engine="piper", voice="joe", speed=1, text=text)
    return stored_object_save(
        key=storage_keys.part_key(digest=digest),
        content=ContentFile(b"f" * size),
        kind=StoredObject.Kind.PART,
    )


def _upload(owner, name="a.epub") -> Book:
    return book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename=name)


@pytest.fixture
def ready(owner):
    """Make uploaded books count as read, as ingestion would."""

    def mark(book: Book) -> Book:
        Book.objects.filter(pk=book.pk).update(status=Book.Status.READY)
        return book

    return mark


def test_originals_go_after_thirty_days_and_newer_ones_stay(storage, owner, ready):
    old, new = ready(_upload(owner, "old.epub")), ready(_upload(owner, "new.epub"))
    _age(old.original_key, 30 * DAY + timedelta(minutes=1))
    _age(new.original_key, 29 * DAY)
    output = _run("purge_expired")
    assert storage.object_keys() == {new.original_key}
    assert list(StoredObject.objects.values_list("key", flat=True)) == [new.original_key]
    assert storage_used_bytes(user=owner) == len(EPUB)
    assert Book.objects.count() == 2, "the book itself stays; only its original file goes"
    assert output.strip().endswith(".")
    assert "Deleted 0 unfinished uploads" in output
    assert "1 originals older than 30 days (1.0 KB)" in output


def test_the_retention_of_originals_is_a_setting(storage, owner, ready, settings):
    settings.CREDITS_ORIGINALS_RETENTION_DAYS = 2
    book = ready(_upload(owner))
    _age(book.original_key, 2 * DAY + timedelta(minutes=1))
    _run("purge_expired")
    assert storage.object_keys() == set()


def test_an_original_still_being_read_is_kept_however_old(storage, owner):
    book = _upload(owner)  # status: uploaded, its ingestion not run yet
    _age(book.original_key, 90 * DAY)
    _run("purge_expired")
    assert storage.object_keys() == {book.original_key}


def test_cached_parts_go_after_48_hours_and_newer_ones_stay(storage):
    old, new = _part("old"), _part("new")
    _age(old.key, 48 * timedelta(hours=1) + timedelta(minutes=1))
    _age(new.key, 47 * timedelta(hours=1))
    output = _run("purge_expired")
    assert storage.object_keys() == {new.key}
    assert "1 cached Parts older than 48 hours" in output


def test_the_age_of_parts_is_a_setting(storage, settings):
    settings.STORAGE_PARTS_MAX_AGE_HOURS = 1
    part = _part("x")
    _age(part.key, timedelta(minutes=61))
    _run("purge_expired")
    assert storage.object_keys() == set()


def test_a_part_a_running_conversion_needs_is_never_purged(storage, monkeypatch):
    needed, unneeded = _part("needed"), _part("unneeded")
    for part in (needed, unneeded):
        _age(part.key, 10 * DAY)
    # What the pipeline's selector answers while a conversion uses this Part.
    monkeypatch.setattr(
        selectors,
        "part_keys_in_use",
        lambda: StoredObject.objects.filter(key=needed.key).values_list("key", flat=True),
    )
    output = _run("purge_expired")
    assert storage.object_keys() == {needed.key}
    assert "kept 1 old Parts a running conversion or a current audiobook needs" in output


def test_parts_count_for_no_one(storage, owner):
    _part("shared", size=10_000)
    assert storage_used_bytes(user=owner) == 0


def test_a_dry_run_deletes_nothing(storage, owner, ready):
    book = ready(_upload(owner))
    _age(book.original_key, 31 * DAY)
    output = _run("purge_expired", "--dry-run")
    assert output.startswith("Would delete 0 unfinished uploads")
    assert "1 originals" in output
    assert storage.object_keys() == {book.original_key}
    assert StoredObject.objects.count() == 1


def test_purge_help_names_both_ages_and_the_in_use_rule():
    from audiobooks.management.commands.purge_expired import Command

    for words in (
        "CREDITS_ORIGINALS_RETENTION_DAYS",
        "STORAGE_PARTS_MAX_AGE_HOURS",
        "still running",
        "Idempotency-Key",
    ):
        assert words in Command.help


# --- reconcile_storage ----------------------------------------------------------------------


def _make_old(storage, key: str) -> None:
    """Backdate an object written behind the app's back past the grace period."""
    if storage.mode == "local":
        past = time.time() - 7200
        os.utime(storage.root / key, (past, past))


def test_reconcile_reports_objects_without_rows_and_rows_without_objects(storage, owner):
    book = _upload(owner)
    leaked = f"users/{owner.uuid}/books/{book.uuid}/mp3/01.mp3"
    storage.put_raw(leaked, b"x" * 2000)
    storage.put_raw("parts/" + "0" * 64 + ".flac", b"y" * 10)
    _make_old(storage, leaked)
    _make_old(storage, "parts/" + "0" * 64 + ".flac")
    lost = _part("lost")
    from audiobooks.storage import backend

    backend.objects_delete([lost.key])
    output = _run("reconcile_storage", "--grace-minutes", "0")
    assert f"object without a row: {leaked}" in output
    assert f"object without a row: parts/{'0' * 64}.flac" in output
    assert f"row without an object: {lost.key}" in output
    assert output.strip().splitlines()[-1] == (
        "Checked 3 objects and 2 rows: 2 objects without a row (2.0 KB) and 1 rows without an object "
        "found (run with --delete to remove them)."
    )
    assert leaked in storage.object_keys(), "reporting deletes nothing"
    assert StoredObject.objects.filter(key=lost.key).exists()


def test_reconcile_delete_removes_both_kinds_of_stray_and_keeps_the_rest(storage, owner):
    book = _upload(owner)
    leaked = f"users/{owner.uuid}/uploads/leaked.epub"
    storage.put_raw(leaked, b"x" * 2000)
    _make_old(storage, leaked)
    lost = _part("lost")
    from audiobooks.storage import backend

    backend.objects_delete([lost.key])
    output = _run("reconcile_storage", "--delete", "--grace-minutes", "0")
    assert output.strip().endswith("1 rows without an object deleted.")
    assert storage.object_keys() == {book.original_key}
    assert list(StoredObject.objects.values_list("key", flat=True)) == [book.original_key]
    assert "0 objects without a row" in _run("reconcile_storage", "--grace-minutes", "0")


def test_reconcile_leaves_young_objects_and_pending_uploads_alone(local_storage, owner):
    from audiobooks.services import upload_start

    upload_start(user=owner, filename="a.epub", size=10, content_type="application/epub+zip")
    local_storage.put_raw(f"users/{owner.uuid}/uploads/being-stored.epub", b"x")
    output = _run("reconcile_storage", "--delete")
    assert "0 objects without a row" in output
    assert "0 rows without an object" in output
    assert f"users/{owner.uuid}/uploads/being-stored.epub" in local_storage.object_keys()
    assert StoredObject.objects.count() == 1


def test_reconcile_finds_the_files_of_a_user_who_has_no_rows(storage, stranger):
    orphan = f"users/{stranger.uuid}/books/x/book.m4b"
    storage.put_raw(orphan, b"m" * 10)
    _make_old(storage, orphan)
    _run("reconcile_storage", "--delete", "--grace-minutes", "0")
    assert storage.object_keys() == set()


def test_reconcile_also_finds_stray_voice_previews(storage):
    stray = storage_keys.VOICE_PREVIEWS_PREFIX + "0" * 64 + ".mp3"
    storage.put_raw(stray, b"x" * 100)
    _make_old(storage, stray)
    assert f"object without a row: {stray}" in _run("reconcile_storage", "--grace-minutes", "0")


def test_reconcile_help_says_what_it_compares_and_what_delete_does():
    from audiobooks.management.commands.reconcile_storage import Command

    for words in ("objects that have no row", "rows that have no object", "--delete", "--grace-minutes"):
        assert words in Command.help


def _idempotency_record(user, key: str, age: timedelta) -> None:
    IdempotencyRecord.objects.create(
        user=user,
        key=key,
        fingerprint="f" * 64,
        state=IdempotencyRecord.State.COMPLETED,
        response_status=201,
        response_body={"id": key},
        created_at=timezone.now() - age,
    )


def test_idempotency_records_go_after_48_hours_and_newer_ones_stay(owner, stranger):
    _idempotency_record(owner, "old", 48 * timedelta(hours=1) + timedelta(minutes=1))
    _idempotency_record(stranger, "old", 49 * timedelta(hours=1))
    _idempotency_record(owner, "new", 47 * timedelta(hours=1))
    output = _run("purge_expired")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert "2 Idempotency-Key records older than 48 hours" in output


def test_a_dry_run_keeps_old_idempotency_records(owner):
    _idempotency_record(owner, "old", 3 * DAY)
    output = _run("purge_expired", "--dry-run")
    assert "1 Idempotency-Key records older than 48 hours" in output
    assert IdempotencyRecord.objects.count() == 1


def test_celery_beat_runs_the_purge_every_hour(storage, owner, ready):
    from audiobooks import tasks  # noqa: F401  # registers the task, as a worker's autodiscovery does
    from ebookvoice.celery import app

    entry = app.conf.beat_schedule["audiobooks.purge_expired_storage"]
    assert entry["schedule"] == 3600.0
    task = app.tasks[entry["task"]]
    book = ready(_upload(owner))
    _age(book.original_key, 31 * DAY)
    _idempotency_record(owner, "old", 3 * DAY)
    task.apply().get()
    assert storage.object_keys() == set()
    assert not IdempotencyRecord.objects.exists()
