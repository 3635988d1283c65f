"""Deleting a book or an account removes every object, and storage_used stays exact."""

from __future__ import annotations

import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.http import Http404
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import user_delete
from audiobooks.models import Book, StoredObject
from audiobooks.selectors import storage_used_bytes
from audiobooks.services import book_create_from_upload, book_delete
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.storage.services import stored_object_save
from audiobooks.tests.factories import completed_conversion
from credits.errors import StorageQuotaExceeded

EPUB = b"PK\x03\x04" + b"e" * 1000


def _book_with_files(owner) -> Book:
    book = book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="a.epub")
    ids = {"user_uuid": owner.uuid, "book_uuid": book.uuid}
    files = deliverable_ids(completed_conversion(book))
    for key, kind, size in (
        (storage_keys.cover_key(**ids, media_type="image/jpeg"), StoredObject.Kind.COVER, 300),
        (storage_keys.m4b_key(**files), StoredObject.Kind.M4B, 5000),
        (storage_keys.mp3_key(**files, number=1), StoredObject.Kind.MP3, 2000),
        (storage_keys.captions_key(**files, number=1), StoredObject.Kind.VTT, 100),
    ):
        stored_object_save(key=key, content=ContentFile(b"x" * size), kind=kind, owner=owner, book=book)
    Book.objects.filter(pk=book.pk).update(cover_key=storage_keys.cover_key(**ids, media_type="image/jpeg"))
    return book


@pytest.mark.django_db
def test_deleting_a_book_removes_every_object_and_frees_its_storage(storage, owner):
    kept = book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="kept.epub")
    book = _book_with_files(owner)
    # A file the pipeline wrote and crashed before recording: the book's folder goes whole.
    storage.put_raw(storage_keys.mp3_key(**deliverable_ids(book.conversions.get()), number=2), b"half")
    assert storage_used_bytes(user=owner) == 2 * len(EPUB) + 300 + 5000 + 2000 + 100
    book_delete(user=owner, book_uuid=book.uuid)
    assert storage.object_keys() == {kept.original_key}
    assert not Book.objects.filter(pk=book.pk).exists()
    assert list(StoredObject.objects.values_list("key", flat=True)) == [kept.original_key]
    assert storage_used_bytes(user=owner) == len(EPUB)
    book_delete(user=owner, book_uuid=kept.uuid)
    assert storage.object_keys() == set()


@pytest.mark.django_db
def test_another_users_book_cannot_be_deleted_and_looks_like_none(local_storage, owner, stranger, staff):
    book = _book_with_files(owner)
    before = local_storage.object_keys()
    for someone in (stranger, staff):
        with pytest.raises(Http404):
            book_delete(user=someone, book_uuid=book.uuid)
    assert local_storage.object_keys() == before
    assert Book.objects.filter(pk=book.pk).exists()


@pytest.mark.django_db
def test_when_storage_fails_the_book_still_goes_and_reconcile_cleans_up(
    local_storage, owner, monkeypatch, caplog
):
    book = _book_with_files(owner)
    monkeypatch.setattr(backend, "objects_delete", lambda keys: (_ for _ in ()).throw(OSError("bucket down")))
    book_delete(user=owner, book_uuid=book.uuid)
    assert "reconcile_storage will remove them" in caplog.text
    assert not Book.objects.exists()
    assert storage_used_bytes(user=owner) == 0
    monkeypatch.undo()
    from datetime import timedelta

    from audiobooks.storage.lifecycle import reconcile_storage

    result = reconcile_storage(delete=True, grace=timedelta(0))
    assert len(result.orphan_objects) == 5
    assert local_storage.object_keys() == set()


@pytest.mark.django_db
def test_staff_deleting_a_book_in_the_admin_removes_its_files_too(
    local_storage, owner, staff, django_capture_on_commit_callbacks
):
    book = _book_with_files(owner)
    client = Client()
    client.force_login(staff)
    url = reverse("admin:audiobooks_book_delete", args=[book.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Book.objects.exists()
    assert local_storage.object_keys() == set()


@pytest.mark.django_db
def test_deleting_an_account_removes_every_object_once_it_commits(
    storage, owner, stranger, django_capture_on_commit_callbacks
):
    _book_with_files(owner)
    theirs = book_create_from_upload(owner=stranger, upload=ContentFile(EPUB), filename="b.epub")
    storage.put_raw(f"users/{owner.uuid}/uploads/unrecorded.epub", b"x")
    with django_capture_on_commit_callbacks(execute=True):
        user_delete(user=owner)
    assert storage.object_keys() == {theirs.original_key}
    assert list(StoredObject.objects.values_list("key", flat=True)) == [theirs.original_key]


@pytest.mark.django_db
def test_an_account_deletion_that_rolls_back_keeps_every_object(
    local_storage, owner, django_capture_on_commit_callbacks
):
    book = _book_with_files(owner)
    before = local_storage.object_keys()

    def delete_then_fail() -> None:
        with transaction.atomic():
            User.objects.get(pk=owner.pk).delete()
            raise RuntimeError("something later in the deletion failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        delete_then_fail()
    assert local_storage.object_keys() == before
    assert Book.objects.filter(pk=book.pk).exists()


@pytest.mark.django_db
def test_replacing_a_file_counts_its_new_size_once(local_storage, owner):
    book = book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="a.epub")
    key = storage_keys.m4b_key(**deliverable_ids(completed_conversion(book)))
    for size in (5000, 3000):
        stored_object_save(
            key=key, content=ContentFile(b"x" * size), kind=StoredObject.Kind.M4B, owner=owner, book=book
        )
    assert storage_used_bytes(user=owner) == len(EPUB) + 3000
    assert local_storage.object_keys() == {book.original_key, key}


@pytest.mark.django_db(transaction=True)
def test_two_uploads_racing_for_the_last_room_in_the_quota_store_one(local_storage, owner, settings):
    """Each fits alone; together they would not. The owner's lock lets exactly one through."""
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": int(len(EPUB) * 1.5)}
    barrier = threading.Barrier(4)
    results: list[object] = []

    def upload(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(
                book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename=f"{index}.epub")
            )
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(isinstance(result, Book) for result in results) == 1
    assert sum(isinstance(result, StorageQuotaExceeded) for result in results) == 3
    assert storage_used_bytes(user=owner) == len(EPUB)
    assert len(local_storage.object_keys()) == 1, "the refused files are deleted again"
