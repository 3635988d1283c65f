"""Direct uploads (start, PUT, finish) and the upload cap and quota, on S3 and on local storage."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from audiobooks.errors import BookError, UnsupportedFileType
from audiobooks.models import Book, StoredObject
from audiobooks.selectors import storage_used_bytes
from audiobooks.services import book_create_from_upload, upload_finish, upload_start
from audiobooks.storage.errors import UploadExpired, UploadIncomplete, UploadMismatch, UploadNotFound
from audiobooks.storage.lifecycle import purge_expired
from audiobooks.tests.factories import ingest_now
from audiobooks.tests.ingest_fixtures import picture
from credits.errors import StorageQuotaExceeded, UploadTooLarge

pytestmark = pytest.mark.django_db

EPUB = b"PK\x03\x04" + b"e" * 4000


def _start(user, data=EPUB, **overrides):
    arguments = {"filename": "Moby Dick.epub", "size": len(data), "content_type": "application/epub+zip"}
    return upload_start(user=user, **{**arguments, **overrides})


def test_a_direct_upload_round_trip_makes_a_book_and_queues_its_ingestion(
    storage, owner, django_capture_on_commit_callbacks
):
    started = _start(owner)
    assert started.headers == {
        "Content-Type": "application/epub+zip",
        "Content-Length": str(len(EPUB)),
        "If-None-Match": "*",
    }
    assert storage_used_bytes(user=owner) == len(EPUB), "the declared size is reserved at start"

    status, _, _ = storage.fetch("PUT", started.url, headers=started.headers, data=EPUB)
    assert status == 200
    with django_capture_on_commit_callbacks() as callbacks:
        book = upload_finish(user=owner, upload_id=started.upload_id)
    assert len(callbacks) == 1, "ingestion is queued once the book is committed"
    assert (book.owner, book.original_filename, book.original_size) == (owner, "Moby Dick.epub", len(EPUB))
    assert book.original_key.startswith(f"users/{owner.uuid}/uploads/")
    stored = StoredObject.objects.get(key=book.original_key)
    assert (stored.book, stored.expires_at, stored.kind) == (book, None, StoredObject.Kind.ORIGINAL)
    assert storage_used_bytes(user=owner) == len(EPUB)


def test_finishing_twice_returns_the_same_book(storage, owner):
    started = _start(owner)
    storage.fetch("PUT", started.url, headers=started.headers, data=EPUB)
    first = upload_finish(user=owner, upload_id=started.upload_id)
    assert upload_finish(user=owner, upload_id=started.upload_id) == first
    assert Book.objects.count() == 1


def test_finishing_before_the_file_arrived_says_so_and_keeps_the_upload_open(storage, owner):
    started = _start(owner)
    with pytest.raises(UploadIncomplete, match="haven't received the file"):
        upload_finish(user=owner, upload_id=started.upload_id)
    storage.fetch("PUT", started.url, headers=started.headers, data=EPUB)
    assert upload_finish(user=owner, upload_id=started.upload_id).original_size == len(EPUB)


def test_a_file_of_another_size_than_announced_is_refused_at_finish_and_removed(storage, owner):
    started = _start(owner)
    key = StoredObject.objects.get(uuid=started.upload_id).key
    storage.put_raw(key, EPUB + b"more", content_type="application/epub+zip")  # past the signed PUT
    with pytest.raises(UploadMismatch, match=f"{len(EPUB) + 4:,} bytes, not the {len(EPUB):,} announced"):
        upload_finish(user=owner, upload_id=started.upload_id)
    assert not StoredObject.objects.exists()
    assert key not in storage.object_keys()
    assert not Book.objects.exists()


def test_a_file_stored_with_another_type_than_announced_is_refused_at_finish(s3, owner):
    started = _start(owner)
    key = StoredObject.objects.get(uuid=started.upload_id).key
    s3.put_raw(key, EPUB, content_type="text/html")
    with pytest.raises(UploadMismatch, match="sent as text/html, not application/epub"):
        upload_finish(user=owner, upload_id=started.upload_id)
    assert key not in s3.object_keys()


def test_another_users_upload_cannot_be_finished_and_looks_like_none(storage, owner, stranger, staff):
    started = _start(owner)
    storage.fetch("PUT", started.url, headers=started.headers, data=EPUB)
    for someone in (stranger, staff):
        with pytest.raises(UploadNotFound):
            upload_finish(user=someone, upload_id=started.upload_id)
    with pytest.raises(UploadNotFound):
        upload_finish(user=owner, upload_id=uuid.uuid4())
    assert not Book.objects.exists()


def test_an_unfinished_upload_expires_and_purge_removes_it_and_its_file(storage, owner, settings):
    started = _start(owner)
    storage.fetch("PUT", started.url, headers=started.headers, data=EPUB)
    pending = StoredObject.objects.get(uuid=started.upload_id)
    assert started.finish_by == pending.expires_at
    assert started.finish_by - timezone.now() > timedelta(minutes=119)
    StoredObject.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(UploadExpired):
        upload_finish(user=owner, upload_id=started.upload_id)
    result = purge_expired()
    assert (result.uploads.count, result.uploads.bytes) == (1, len(EPUB))
    assert pending.key not in storage.object_keys()
    assert storage_used_bytes(user=owner) == 0


def test_an_upload_over_the_cap_is_refused_at_start_with_the_limit_in_the_message(s3, owner, settings):
    settings.CREDITS_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(UploadTooLarge, match=r"This file is 4\.0 KB; uploads can be at most 1 KB"):
        _start(owner)
    assert not StoredObject.objects.exists()


def test_an_upload_over_the_quota_is_refused_and_pending_uploads_count_against_it(s3, owner, settings):
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": 6000}
    _start(owner)  # 4,004 bytes reserved, not yet sent
    with pytest.raises(StorageQuotaExceeded, match="Delete some books to make room"):
        _start(owner)
    assert StoredObject.objects.count() == 1


def test_a_streamed_upload_over_the_quota_is_refused_and_nothing_is_kept(storage, owner, settings):
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": 6000}
    book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="a.epub")
    with pytest.raises(StorageQuotaExceeded):
        book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="b.epub")
    assert Book.objects.count() == 1
    assert len(storage.object_keys()) == 1
    assert storage_used_bytes(user=owner) == len(EPUB)


@pytest.mark.parametrize(
    ("filename", "content_type", "message"),
    [
        ("setup.exe", "application/octet-stream", "isn't supported"),
        ("book.epub", "text/html", "must be sent as application/epub\\+zip, not text/html"),
        ("book.pdf", "application/epub+zip", "must be sent as application/pdf"),
    ],
)
def test_a_wrong_type_is_refused_at_start(local_storage, owner, filename, content_type, message):
    with pytest.raises(UnsupportedFileType, match=message):
        _start(owner, filename=filename, content_type=content_type)
    assert not StoredObject.objects.exists()


def test_an_empty_upload_is_refused(local_storage, owner):
    with pytest.raises(BookError, match="empty"):
        _start(owner, data=b"")


PNG = picture("PNG", (40, 60))


def test_an_upload_is_ingested_from_s3_and_its_cover_is_recorded(
    s3, owner, django_capture_on_commit_callbacks
):
    from audiobooks.tests.ingest_fixtures import EpubSpec, paragraphs, xhtml

    epub = EpubSpec(
        documents=[("one.xhtml", xhtml("<h1>One</h1>" + paragraphs(5), title="One"))],
        manifest_extra='<item id="cover" href="cover.png" media-type="image/png" properties="cover-image"/>',
        extra_files={"OEBPS/cover.png": PNG},
    ).build()
    with django_capture_on_commit_callbacks():
        book = book_create_from_upload(owner=owner, upload=ContentFile(epub), filename="café.epub")
    assert (
        s3.client.head_object(Bucket=s3.bucket, Key=book.original_key)["ContentType"]
        == "application/epub+zip"
    )
    book = ingest_now(book)
    assert book.status == Book.Status.READY, book.error_message
    assert book.cover_key == f"users/{owner.uuid}/books/{book.uuid}/cover.png"
    cover = StoredObject.objects.get(key=book.cover_key)
    assert (cover.kind, cover.size, cover.content_type) == (StoredObject.Kind.COVER, len(PNG), "image/png")
    assert s3.object_keys() == {book.original_key, book.cover_key}
    assert storage_used_bytes(user=owner) == len(epub) + len(PNG)
