"""The direct-upload API over HTTP, as an app uses it: start, PUT the file, finish.

Runs on local storage (the signed PUT view) and on the S3 protocol server the
tests start (moto behind the SigV4 gate), with an app session token from
allauth's headless API.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.tests.conftest import PASSWORD, AppClient, fresh_rate_limits, make_person  # noqa: F401
from audiobooks.models import Book, StoredObject
from audiobooks.selectors import storage_used_bytes
from audiobooks.storage import backend
from audiobooks.tests.factories import ingest_now
from ebookvoice.paths import corpus_dir

pytestmark = pytest.mark.django_db

START = "/api/v1/uploads"
BOOK = corpus_dir() / "good" / "sherlock-holmes.epub"
EPUB = b"PK\x03\x04" + b"e" * 4000


def finish_path(upload_id: str) -> str:
    return f"/api/v1/uploads/{upload_id}/finish"


@pytest.fixture
def owner(db: None):
    return make_person("owner@example.com")


@pytest.fixture
def stranger(db: None):
    return make_person("stranger@example.com")


def signed_in(email: str) -> AppClient:
    app = AppClient()
    assert app.post("/auth/login", {"email": email, "password": PASSWORD}).status_code == 200
    assert app.session_token
    return app


@pytest.fixture
def app(owner) -> AppClient:
    return signed_in("owner@example.com")


def start(app: AppClient, data: bytes = EPUB, **overrides):
    body = {"filename": "Moby Dick.epub", "size": len(data), "content_type": "application/epub+zip"}
    return app.post(START, {**body, **overrides})


def put(storage, url: str, headers: dict[str, str], data: bytes) -> int:
    """PUT the file the way the app would: to S3 over HTTP, or to this site's signed link."""
    if storage.mode == "local":
        parts = urlsplit(url)
        assert parts.netloc == "testserver", "a local link is on this site"
        url = f"{parts.path}?{parts.query}" if parts.query else parts.path
    status, _, _ = storage.fetch("PUT", url, headers=headers, data=data)
    return status


def started_and_sent(storage, app: AppClient, data: bytes = EPUB) -> dict:
    started = start(app, data)
    assert started.status_code == 201, started.content
    body = started.json()
    assert put(storage, body["url"], body["headers"], data) == 200
    return body


def assert_error(response, status: int, code: str, message: str = "") -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert message in error["message"]


# --- The round trip ------------------------------------------------------------------------


def test_an_app_uploads_a_real_epub_and_its_book_is_made_and_queued_for_reading(
    storage, app, owner, django_capture_on_commit_callbacks
):
    epub = BOOK.read_bytes()
    started = start(app, epub, filename="The Adventures of Sherlock Holmes.epub")
    assert started.status_code == 201, started.content
    body = started.json()
    assert set(body) == {
        "upload_id",
        "method",
        "url",
        "headers",
        "url_expires_at",
        "finish_by",
        "finish_url",
    }
    assert body["method"] == "PUT"
    assert body["headers"] == {
        "Content-Type": "application/epub+zip",
        "Content-Length": str(len(epub)),
        "If-None-Match": "*",
    }
    assert body["url"].startswith("http")
    assert body["finish_url"] == f"http://testserver{finish_path(body['upload_id'])}"
    now = timezone.now()
    url_expires_at, finish_by = parse_datetime(body["url_expires_at"]), parse_datetime(body["finish_by"])
    assert url_expires_at is not None
    assert finish_by is not None
    assert now < url_expires_at <= now + timedelta(minutes=15)
    assert finish_by > now + timedelta(minutes=119)

    assert put(storage, body["url"], body["headers"], epub) == 200
    with django_capture_on_commit_callbacks() as callbacks:
        finished = app.post(finish_path(body["upload_id"]))

    assert finished.status_code == 201, finished.content
    book = Book.objects.get(owner=owner)
    assert finished.json() == {
        "book": str(book.uuid),
        "status": "uploaded",
        "original_filename": "The Adventures of Sherlock Holmes.epub",
        "original_size": len(epub),
    }
    assert len(callbacks) == 1, "ingestion is queued once the book is committed"
    assert storage.object_keys() == {book.original_key}
    assert storage_used_bytes(user=owner) == len(epub)

    book = ingest_now(book)  # what the queued task does
    assert book.status == Book.Status.READY, book.error_message
    assert "Sherlock" in book.title
    assert book.chapters.exists()


def test_finishing_again_answers_200_with_the_same_book_and_queues_nothing_more(
    storage, app, django_capture_on_commit_callbacks
):
    body = started_and_sent(storage, app)
    first = app.post(finish_path(body["upload_id"]))
    with django_capture_on_commit_callbacks() as callbacks:
        again = app.post(finish_path(body["upload_id"]))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert callbacks == []
    assert Book.objects.count() == 1


# --- Refusals at start -------------------------------------------------------------------------


def test_a_file_over_the_upload_cap_is_refused_with_413_and_the_limit(local_storage, app, settings):
    settings.CREDITS_MAX_UPLOAD_BYTES = 1000
    response = start(app)
    assert_error(response, 413, "upload_too_large", "This file is 4.0 KB; uploads can be at most 1 KB")
    assert not StoredObject.objects.exists()


def test_a_file_over_the_storage_quota_is_refused_with_413_and_the_room_left(local_storage, app, settings):
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": 6000}
    assert start(app).status_code == 201  # 4,004 bytes reserved, not yet sent
    response = start(app)
    assert_error(response, 413, "storage_quota_exceeded", "Delete some books to make room")
    assert StoredObject.objects.count() == 1


@pytest.mark.parametrize(
    ("filename", "content_type", "message"),
    [
        ("setup.exe", "application/octet-stream", "Please upload an EPUB, PDF, TXT or HTML file"),
        ("book.epub", "text/html", "must be sent as application/epub+zip, not text/html"),
    ],
)
def test_an_unsupported_file_type_is_refused_with_415(local_storage, app, filename, content_type, message):
    response = start(app, filename=filename, content_type=content_type)
    assert_error(response, 415, "unsupported_file_type", message)
    assert not StoredObject.objects.exists()


def test_an_empty_file_is_refused_with_400(local_storage, app):
    assert_error(start(app, b""), 400, "book_error", "This file is empty.")


def test_a_start_without_a_size_is_refused_with_400_naming_the_field(local_storage, app):
    response = app.post(START, {"filename": "a.epub", "content_type": "application/epub+zip"})
    assert_error(response, 400, "invalid", "size: This field is required.")
    assert response.json()["error"]["fields"] == {"size": ["This field is required."]}


def test_starts_past_the_rate_limit_are_refused_with_429_and_retry_after(local_storage, app, settings):
    settings.CREDITS_RATE_LIMITS = {"upload": "1/h"}
    assert start(app).status_code == 201
    response = start(app)
    assert_error(response, 429, "rate_limited", "limit of 1 upload per hour")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert StoredObject.objects.count() == 1


def test_the_browser_upload_and_the_api_share_one_upload_limit(local_storage, app, owner, settings):
    settings.CREDITS_RATE_LIMITS = {"upload": "1/h"}
    browser = Client()
    browser.force_login(owner)
    assert browser.post("/books/upload", {"file": SimpleUploadedFile("a.epub", EPUB)}).status_code == 303
    assert start(app).status_code == 429


def test_with_redis_down_a_start_is_refused_with_503_not_a_crash(local_storage, app, settings):
    settings.CACHES = {
        **django_settings.CACHES,
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        },
    }
    settings.RATELIMIT_USE_CACHE = "unreachable"
    response = start(app)
    assert_error(response, 503, "rate_limit_unavailable", "try again in a minute")
    assert response["Retry-After"] == "60"
    assert not StoredObject.objects.exists()


# --- Refusals at finish ------------------------------------------------------------------------


def test_a_file_of_another_size_than_announced_is_refused_at_finish_with_422(storage, app):
    body = start(app).json()
    key = StoredObject.objects.get(uuid=body["upload_id"]).key
    storage.put_raw(key, EPUB + b"more", content_type="application/epub+zip")  # past the signed PUT
    response = app.post(finish_path(body["upload_id"]))
    assert_error(
        response, 422, "upload_mismatch", f"{len(EPUB) + 4:,} bytes, not the {len(EPUB):,} announced"
    )
    assert not Book.objects.exists()
    assert key not in storage.object_keys()


def test_a_file_stored_with_another_type_than_announced_is_refused_at_finish_with_422(s3, app):
    body = start(app).json()
    key = StoredObject.objects.get(uuid=body["upload_id"]).key
    s3.put_raw(key, EPUB, content_type="text/html")
    response = app.post(finish_path(body["upload_id"]))
    assert_error(response, 422, "upload_mismatch", "sent as text/html, not application/epub+zip")
    assert not Book.objects.exists()


def test_finishing_before_the_file_arrived_is_a_409_and_the_upload_stays_open(storage, app):
    body = start(app).json()
    response = app.post(finish_path(body["upload_id"]))
    assert_error(response, 409, "upload_incomplete", "haven't received the file")
    assert put(storage, body["url"], body["headers"], EPUB) == 200
    assert app.post(finish_path(body["upload_id"])).status_code == 201


def test_finishing_after_the_deadline_is_a_410(local_storage, app):
    body = started_and_sent(local_storage, app)
    StoredObject.objects.filter(uuid=body["upload_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_error(app.post(finish_path(body["upload_id"])), 410, "upload_expired", "Please start it again")


def test_a_strangers_upload_id_is_a_404_like_one_that_never_existed(local_storage, app, stranger):
    body = started_and_sent(local_storage, app)
    intruder = signed_in("stranger@example.com")
    response = intruder.post(finish_path(body["upload_id"]))
    assert_error(response, 404, "upload_not_found", "There is no upload with this id.")
    assert intruder.post(finish_path(str(uuid.uuid4()))).json() == response.json()
    assert not Book.objects.exists()
    assert app.post(finish_path(body["upload_id"])).status_code == 201


def test_a_local_upload_link_takes_one_put(local_storage, app):
    body = started_and_sent(local_storage, app)
    other = b"PK\x03\x04" + b"X" * (len(EPUB) - 4)  # same size, other bytes
    assert put(local_storage, body["url"], body["headers"], other) == 403
    assert app.post(finish_path(body["upload_id"])).status_code == 201
    book = Book.objects.get()
    assert b"".join(backend.object_chunks(book.original_key)) == EPUB


def test_a_local_upload_link_is_dead_after_finish_and_cannot_replace_the_original(local_storage, app):
    body = started_and_sent(local_storage, app)
    assert app.post(finish_path(body["upload_id"])).status_code == 201
    book = Book.objects.get()
    # Even with the object gone (so "used once" alone would not stop it), the finished upload refuses.
    other = b"PK\x03\x04" + b"X" * (len(EPUB) - 4)
    backend.objects_delete([book.original_key])
    status, _, text = local_storage.fetch(
        "PUT", urlsplit(body["url"]).path, headers=body["headers"], data=other
    )
    assert status == 403
    assert b"finished or has expired" in text
    assert backend.object_head(book.original_key) is None


def test_an_s3_upload_link_writes_once_and_a_second_put_cannot_replace_the_file(s3, app):
    body = started_and_sent(s3, app)
    other = b"PK\x03\x04" + b"X" * (len(EPUB) - 4)  # same size, other bytes
    assert put(s3, body["url"], body["headers"], other) == 412
    # Leaving the condition out breaks the signature rather than the rule.
    unconditional = {name: value for name, value in body["headers"].items() if name != "If-None-Match"}
    assert put(s3, body["url"], unconditional, other) == 403
    assert app.post(finish_path(body["upload_id"])).status_code == 201
    book = Book.objects.get()
    assert b"".join(backend.object_chunks(book.original_key)) == EPUB
    assert put(s3, body["url"], body["headers"], other) == 412
    assert b"".join(backend.object_chunks(book.original_key)) == EPUB


def test_a_local_upload_link_is_dead_once_its_upload_expired(local_storage, app):
    body = start(app).json()
    StoredObject.objects.filter(uuid=body["upload_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert put(local_storage, body["url"], body["headers"], EPUB) == 403


def test_a_filename_with_a_nul_is_refused_with_400(local_storage, app):
    assert_error(start(app, filename="evil\x00name.epub"), 400, "parse_error", "NUL")
    assert not StoredObject.objects.exists()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Moby\r\nDick.epub", "Moby Dick.epub"),
        ("ring\x07the\x08bell.epub", "ringthebell.epub"),
        ("a\x1b[31mred\x7f.epub", "a[31mred.epub"),
        ("\u202eboo.epub", "boo.epub"),
        ("dir/\tTabbed\x85 name.epub", "Tabbed name.epub"),
        ("Les Misérables.epub", "Les Misérables.epub"),
    ],
)
def test_a_filename_is_stored_without_control_characters(local_storage, app, sent, stored):
    body = start(app, filename=sent).json()
    assert StoredObject.objects.get(uuid=body["upload_id"]).filename == stored
    assert put(local_storage, body["url"], body["headers"], EPUB) == 200
    finished = app.post(finish_path(body["upload_id"]))
    assert finished.json()["original_filename"] == stored
    assert Book.objects.get().original_filename == stored


# --- Authentication ----------------------------------------------------------------------------


def test_without_a_session_token_both_steps_are_refused_with_401(local_storage, app):
    body = start(app).json()
    for path in (START, finish_path(body["upload_id"])):
        response = Client().post(path, {}, content_type="application/json")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "X-Session-Token"
    assert not Book.objects.exists()


def test_a_browser_session_cookie_does_not_authenticate_the_api(local_storage, owner):
    browser = Client()
    browser.force_login(owner)
    response = browser.post(START, {"filename": "a.epub", "size": 10, "content_type": "application/epub+zip"})
    assert_error(response, 401, "not_authenticated")
