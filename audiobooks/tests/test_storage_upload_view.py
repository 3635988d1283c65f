"""The browser upload: streamed to disk, stopped past the cap, refused with clear messages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audiobooks.models import Book, StoredObject
from audiobooks.selectors import storage_used_bytes
from audiobooks.storage.uploads import CappedUploadHandler

pytestmark = pytest.mark.django_db

URL = reverse("audiobooks:book-upload")
EPUB = b"PK\x03\x04" + b"e" * 20_000


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _post(client, data=EPUB, name="Moby Dick.epub", **extra):
    return client.post(URL, {"file": SimpleUploadedFile(name, data)}, **extra)


@pytest.fixture
def chunks_seen(monkeypatch):
    """How many chunks of the body the upload handler was given."""
    seen: list[int] = []
    original = CappedUploadHandler.receive_data_chunk

    def spy(self, raw_data, start):
        seen.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(CappedUploadHandler, "receive_data_chunk", spy)
    return seen


@pytest.fixture
def upload_tmp(settings, tmp_path):
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def test_an_upload_is_stored_recorded_and_the_browser_sent_on(
    storage, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(_client(owner))
    assert response.status_code == 303
    assert response["Location"] == reverse("home")
    assert len(callbacks) == 1
    book = Book.objects.get(owner=owner)
    assert (book.original_filename, book.original_size) == ("Moby Dick.epub", len(EPUB))
    assert storage.object_keys() == {book.original_key}
    assert StoredObject.objects.get().size == len(EPUB)
    assert storage_used_bytes(user=owner) == len(EPUB)


def test_an_app_asking_for_json_gets_the_new_book(local_storage, owner):
    response = _post(_client(owner), HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    assert response.json() == {"book": str(Book.objects.get().uuid), "status": "uploaded"}


def test_the_next_page_is_followed_only_on_this_site(local_storage, owner):
    client = _client(owner)
    ok = client.post(URL, {"file": SimpleUploadedFile("a.epub", EPUB), "next": "/books/"})
    assert ok["Location"] == "/books/"
    evil = client.post(URL, {"file": SimpleUploadedFile("b.epub", EPUB), "next": "https://evil.example/"})
    assert evil["Location"] == reverse("home")


def test_a_file_far_over_the_cap_is_refused_before_its_body_is_read(
    local_storage, owner, settings, chunks_seen, upload_tmp
):
    settings.CREDITS_MAX_UPLOAD_BYTES = 1000
    response = _post(_client(owner), data=b"x" * 200_000)
    assert response.status_code == 413
    assert "uploads can be at most 1 KB" in response.content.decode()
    assert chunks_seen == []
    assert not Book.objects.exists()
    assert local_storage.object_keys() == set()


def test_a_file_over_the_cap_is_stopped_while_it_streams(
    local_storage, owner, settings, chunks_seen, upload_tmp
):
    # Within the multipart slack, so only the running count can catch it.
    settings.CREDITS_MAX_UPLOAD_BYTES = 10_000
    response = _post(_client(owner), HTTP_ACCEPT="application/json")
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "upload_too_large"
    assert "uploads can be at most 10 KB" in error["message"]
    assert sum(chunks_seen) > 10_000
    assert not Book.objects.exists()
    assert local_storage.object_keys() == set()
    assert list(upload_tmp.iterdir()) == [], "the partial temporary file is deleted"


def test_a_file_over_the_quota_is_refused_with_the_room_left(local_storage, owner, settings):
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": 30_000}
    client = _client(owner)
    assert _post(client).status_code == 303
    response = _post(client, name="second.epub")
    assert response.status_code == 413
    text = response.content.decode()
    assert "your Free plan has" in text
    assert "Delete some books to make room" in text
    assert Book.objects.count() == 1


def test_a_file_type_that_is_not_a_book_is_refused(local_storage, owner, chunks_seen):
    response = _post(_client(owner), data=b"MZ" + b"\0" * 5000, name="setup.exe")
    assert response.status_code == 415
    assert "Please upload an EPUB, PDF, TXT or HTML file" in response.content.decode()
    assert chunks_seen == [], "refused from its name, before any of it is written"
    assert not Book.objects.exists()


def test_a_form_without_a_file_is_refused(local_storage, owner):
    response = _client(owner).post(URL, {"title": "x"})
    assert response.status_code == 400
    assert "Choose a file" in response.content.decode()


def test_a_cross_site_upload_without_the_csrf_token_is_refused(local_storage, owner):
    response = _post(_client(owner, enforce_csrf_checks=True))
    assert response.status_code == 403
    assert not Book.objects.exists()


def test_someone_signed_out_is_sent_to_sign_in(local_storage):
    response = Client().post(URL, {"file": SimpleUploadedFile("a.epub", EPUB)})
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert not Book.objects.exists()


def test_uploads_past_the_rate_limit_are_refused_with_retry_after(local_storage, owner, settings):
    settings.CREDITS_RATE_LIMITS = {"upload": "1/h"}
    client = _client(owner)
    assert _post(client).status_code == 303
    response = _post(client, name="again.epub")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Book.objects.count() == 1


def test_only_a_post_uploads(local_storage, owner):
    assert _client(owner).get(URL).status_code == 405
