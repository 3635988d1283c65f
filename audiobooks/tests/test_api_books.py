"""The books API: list, filters, pages, multipart upload and its refusals, detail, delete, quote, voices."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.models import Book, StoredObject
from credits.services import credits_grant_by_system
from tests.apiclient import assert_error, person_with_app, ready_book
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

EPUB = b"PK\x03\x04" + b"e" * 4000


@pytest.fixture
def reader():
    return person_with_app("reader@example.com")


def epub_upload(name: str = "Moby Dick.epub", data: bytes = EPUB) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/epub+zip")


def upload(api, file: Any, **extra: Any):
    return api.http.post("/api/v1/books", {"file": file}, headers={"X-Session-Token": api.token}, **extra)


# --- List ---------------------------------------------------------------------------------


def test_the_list_shows_ones_books_newest_first_in_pages(reader, tmp_path):
    user, api = reader
    books = [ready_book(user, tmp_path / str(n)) for n in range(3)]

    first = api.get("/api/v1/books", {"page_size": 2})
    assert first.status_code == 200
    body = first.json()
    assert body["count"] == 3
    assert [b["id"] for b in body["results"]] == [str(books[2].uuid), str(books[1].uuid)]
    assert body["next"].endswith("page=2&page_size=2")
    second = api.get("/api/v1/books", {"page_size": 2, "page": 2}).json()
    assert [b["id"] for b in second["results"]] == [str(books[0].uuid)]
    listed = second["results"][0]
    assert listed["title"] == "The Lighthouse"
    assert listed["status"] == "ready"
    assert listed["chapters_count"] == 2
    assert listed["original_filename"] == "story.epub"


def test_the_list_filters_by_status_and_text(reader, tmp_path):
    user, api = reader
    ready = ready_book(user, tmp_path)
    Book.objects.create(owner=user, original_key="k", original_filename="Whale Tales.txt", original_size=1)

    assert [b["id"] for b in api.get("/api/v1/books", {"status": "ready"}).json()["results"]] == [
        str(ready.uuid)
    ]
    assert [b["title"] for b in api.get("/api/v1/books", {"q": "whale"}).json()["results"]] == [
        "Whale Tales.txt"
    ]
    by_title = api.get("/api/v1/books", {"ordering": "title"}).json()["results"]
    assert [b["title"] for b in by_title] == ["The Lighthouse", "Whale Tales.txt"]


def test_the_list_refuses_an_unknown_status_or_a_page_past_the_end(reader):
    _, api = reader
    assert_error(api.get("/api/v1/books", {"status": "lost"}), 400, "invalid", "status")
    assert_error(api.get("/api/v1/books", {"page": 9}), 404, "not_found", "Invalid page")


def test_the_list_takes_the_same_number_of_queries_for_two_books_or_five(
    reader, tmp_path, django_assert_num_queries
):
    user, api = reader
    for n in range(2):
        ready_book(user, tmp_path / str(n))
    api.get("/api/v1/books")  # warm the session's caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        assert api.get("/api/v1/books").status_code == 200
    for n in range(2, 5):
        ready_book(user, tmp_path / str(n))
    with django_assert_num_queries(len(two.captured_queries)):
        assert len(api.get("/api/v1/books").json()["results"]) == 5


# --- Multipart upload -------------------------------------------------------------------------


def test_a_multipart_upload_makes_a_book_queued_for_reading(reader, django_capture_on_commit_callbacks):
    user, api = reader
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(api, epub_upload())
    assert response.status_code == 201, response.content
    book = Book.objects.get(owner=user)
    assert response.json()["id"] == str(book.uuid)
    assert response.json()["status"] == "uploaded"
    assert response.json()["chapters"] == []
    assert StoredObject.objects.get(book=book, kind=StoredObject.Kind.ORIGINAL).size == len(EPUB)
    assert len(callbacks) == 1  # the ingestion task


def test_an_upload_of_an_unsupported_type_is_refused_with_415(reader):
    _, api = reader
    assert_error(upload(api, epub_upload("notes.docx")), 415, "unsupported_file_type", "EPUB, PDF")
    assert not Book.objects.exists()


def test_an_upload_without_a_file_is_refused(reader):
    _, api = reader
    assert_error(upload(api, ""), 400, "invalid", "file")


def test_an_upload_sent_as_json_is_refused_with_415(reader):
    _, api = reader
    assert_error(api.post("/api/v1/books", {"file": "x"}), 415, "unsupported_media_type")


def test_an_upload_over_the_cap_is_refused_with_413_and_nothing_is_stored(reader, settings):
    _, api = reader
    settings.CREDITS_MAX_UPLOAD_BYTES = 1000
    assert_error(upload(api, epub_upload()), 413, "upload_too_large", "uploads can be at most 1 KB")
    assert not StoredObject.objects.exists()


def test_an_upload_announcing_far_more_than_the_cap_is_refused_before_it_is_read(reader, settings):
    _, api = reader
    settings.CREDITS_MAX_UPLOAD_BYTES = 1000
    big = epub_upload(data=EPUB * 40)  # 160 KB: past the cap and the multipart slack
    assert_error(upload(api, big), 413, "upload_too_large")


def test_the_eleventh_upload_in_an_hour_is_refused_with_429_and_retry_after(reader, settings):
    _, api = reader
    settings.CREDITS_RATE_LIMITS = {"upload": "1/h"}
    assert upload(api, epub_upload()).status_code == 201
    refused = upload(api, epub_upload())
    assert_error(refused, 429, "rate_limited", "limit of 1 upload per hour")
    assert int(refused["Retry-After"]) > 0


def test_uploads_answer_503_when_the_rate_limit_store_is_down(reader, settings):
    _, api = reader
    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.RATELIMIT_USE_CACHE = "unreachable"
    refused = upload(api, epub_upload())
    assert_error(refused, 503, "rate_limit_unavailable", "try again in a minute")
    assert refused["Retry-After"] == "60"


# --- Detail, delete ---------------------------------------------------------------------------


def test_the_detail_lists_the_chapters_with_the_indexes_a_conversion_names(reader, tmp_path):
    user, api = reader
    book = ready_book(user, tmp_path)
    body = api.get(f"/api/v1/books/{book.uuid}").json()
    assert [(c["index"], c["title"], c["included"]) for c in body["chapters"]] == [
        (0, "The Harbour", True),
        (1, "The Storm", True),
    ]
    assert body["chapters"][0]["chars"] > 0
    # Whole chapters: each its own group, no sections.
    grouping = [(c["group"], c["section"], c["group_title"]) for c in body["chapters"]]
    assert grouping == [(0, 0, ""), (1, 0, "")]
    assert body["warnings"] == []


def test_deleting_a_book_removes_it_and_its_files(reader, tmp_path, django_capture_on_commit_callbacks):
    user, api = reader
    book = ready_book(user, tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/books/{book.uuid}").status_code == 204
    assert not Book.objects.filter(pk=book.pk).exists()
    assert not StoredObject.objects.filter(owner=user).exists()
    assert_error(api.get(f"/api/v1/books/{book.uuid}"), 404, "not_found")


# --- Quote -------------------------------------------------------------------------------------


def test_a_quote_says_what_the_chosen_chapters_cost_and_what_one_has(reader, tmp_path):
    user, api = reader
    book = ready_book(user, tmp_path)
    credits_grant_by_system(user=user, hundredths=200, reason="test")
    quote = api.post(f"/api/v1/books/{book.uuid}/quote", {"chapters": [0, 1]}).json()
    characters = sum(book.chapters.values_list("chars", flat=True))
    assert quote["characters"] == characters
    price = -(-characters // 500)  # a hundredth of a credit per started 500 characters
    assert (quote["credits"], quote["credits_hundredths"]) == (f"{price / 100:.2f}", price)
    assert (quote["balance"], quote["balance_hundredths"]) == ("2.00", 200)
    assert quote["balance_audio_seconds"] == int(100_000 / 17.2)  # 2 credits, joe at 17.2 characters a second
    assert quote["audio_seconds"] == int(characters / 17.2)
    assert quote["affordable"] is True
    assert (quote["shortfall"], quote["shortfall_hundredths"]) == ("0.00", 0)


def test_a_quote_at_another_speed_says_less_audio_for_the_same_price(reader, tmp_path):
    user, api = reader
    book = ready_book(user, tmp_path)
    normal = api.post(f"/api/v1/books/{book.uuid}/quote", {"chapters": [0, 1]}).json()
    fast = api.post(f"/api/v1/books/{book.uuid}/quote", {"chapters": [0, 1], "speed": 1.5}).json()
    assert fast["credits_hundredths"] == normal["credits_hundredths"]
    assert fast["audio_seconds"] == int(normal["characters"] / (17.2 * 1.5))


def test_a_quote_at_a_speed_out_of_range_is_refused(reader, tmp_path):
    user, api = reader
    book = ready_book(user, tmp_path)
    assert_error(
        api.post(f"/api/v1/books/{book.uuid}/quote", {"chapters": [0], "speed": 9}), 400, "invalid", "speed"
    )


def test_a_quote_needs_the_chapters(reader, tmp_path):
    user, api = reader
    book = ready_book(user, tmp_path)
    assert_error(api.post(f"/api/v1/books/{book.uuid}/quote", {}), 400, "invalid", "chapters")


# --- Voices ------------------------------------------------------------------------------------


def test_voices_are_listed_with_their_preview_status(reader):
    _, api = reader
    voices = api.get("/api/v1/voices").json()
    joe = next(v for v in voices if v["key"] == DEFAULT_VOICE)
    assert joe["language"].startswith("en")
    assert joe["preview_status"] in {"ready", "pending", "failed"}
    assert (joe["preview"] is None) == (joe["preview_status"] != "ready")


def test_a_stored_stock_preview_is_offered_as_a_link_that_plays(reader):
    from audiobooks.storage.services import stored_object_save
    from audiobooks.voices import previews

    _, api = reader
    voice = previews.voice_get(voice_key=DEFAULT_VOICE)
    from io import BytesIO

    stored_object_save(
        key=previews.voice_preview_key(voice=voice),
        content=BytesIO(b"ID3 an mp3"),
        kind=StoredObject.Kind.VOICE_PREVIEW,
        content_type="audio/mpeg",
        filename="Joe preview.mp3",
    )
    joe = next(v for v in api.get("/api/v1/voices").json() if v["key"] == DEFAULT_VOICE)
    assert joe["preview_status"] == "ready"
    assert joe["preview"]["content_type"] == "audio/mpeg"
    assert joe["preview"]["url"].startswith("http://testserver/")
    played = Client().get(joe["preview"]["url"].removeprefix("http://testserver"))
    assert played.status_code == 200
    assert b"".join(played.streaming_content) == b"ID3 an mp3"  # type: ignore[attr-defined]


# --- The envelope everywhere -----------------------------------------------------------------------


def test_an_unknown_path_under_the_api_answers_404_in_the_envelope(reader):
    _, api = reader
    assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")


def test_a_wrong_method_answers_405_in_the_envelope(reader):
    _, api = reader
    response = api.request("PUT", "/api/v1/books", {})
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_no_session_answers_401_in_the_envelope():
    response = Client().get("/api/v1/books")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "X-Session-Token"


def test_a_malformed_json_body_answers_400_in_the_envelope(reader):
    _, api = reader
    response = api.http.post(
        "/api/v1/conversions",
        "{not json",
        content_type="application/json",
        headers={"X-Session-Token": api.token},
    )
    assert_error(response, 400, "parse_error", "JSON")
