"""Listening progress and bookmarks: one place for the phone (token) and the web player (session + CSRF)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.listening import MAX_BOOKMARKS_PER_BOOK
from audiobooks.models import Bookmark
from tests.apiclient import assert_error, person_with_app, ready_book

pytestmark = pytest.mark.django_db

CSRF = "k" * 32  # a CSRF secret, as the csrftoken cookie holds it


@pytest.fixture
def reader(tmp_path):
    user, api = person_with_app("reader@example.com")
    return user, api, ready_book(user, tmp_path, titles=("One", "Two", "Three"))


def web_player(user, *, csrf: bool = True) -> Client:
    """The signed-in browser, sending the CSRF token the page would read from its cookie."""
    browser = Client(enforce_csrf_checks=True, headers={"X-CSRFToken": CSRF} if csrf else {})
    browser.force_login(user)
    browser.cookies["csrftoken"] = CSRF
    return browser


def test_a_book_never_listened_to_starts_at_the_beginning(reader):
    _, api, book = reader
    assert api.get(f"/api/v1/books/{book.uuid}/progress").json() == {
        "book": str(book.uuid),
        "chapter": 1,
        "position_ms": 0,
        "recorded_at": None,
    }


def test_the_phone_saves_a_place_and_the_web_player_resumes_there_and_moves_it_on(reader):
    user, api, book = reader
    path = f"/api/v1/books/{book.uuid}/progress"
    saved = api.put(path, {"chapter": 2, "position_ms": 61_500})
    assert saved.status_code == 200, saved.content
    browser = web_player(user)
    assert browser.get(path).json()["position_ms"] == 61_500
    moved = browser.put(path, {"chapter": 3, "position_ms": 1_000}, content_type="application/json")
    assert moved.status_code == 200, moved.content
    assert (api.get(path).json()["chapter"], api.get(path).json()["position_ms"]) == (3, 1_000)


def test_a_place_recorded_before_the_saved_one_does_not_move_it_back(reader):
    _, api, book = reader
    path = f"/api/v1/books/{book.uuid}/progress"
    api.put(path, {"chapter": 3, "position_ms": 5_000})
    late = (timezone.now() - timedelta(hours=2)).isoformat()
    kept = api.put(path, {"chapter": 1, "position_ms": 10, "recorded_at": late}).json()
    assert (kept["chapter"], kept["position_ms"]) == (3, 5_000)


def test_a_place_recorded_in_the_future_counts_as_now(reader):
    _, api, book = reader
    path = f"/api/v1/books/{book.uuid}/progress"
    ahead = (timezone.now() + timedelta(days=1)).isoformat()
    saved = api.put(path, {"chapter": 2, "position_ms": 1, "recorded_at": ahead}).json()
    recorded = parse_datetime(saved["recorded_at"])
    assert recorded is not None
    assert recorded <= timezone.now()
    assert api.put(path, {"chapter": 3, "position_ms": 2}).json()["chapter"] == 3


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"chapter": 4, "position_ms": 0}, "unknown_chapter", "numbered 1 to 3"),
        ({"chapter": 0, "position_ms": 0}, "invalid", "chapter"),
        ({"chapter": 1, "position_ms": -5}, "invalid", "position_ms"),
        ({"chapter": 1}, "invalid", "position_ms"),
        ({"chapter": 1, "position_ms": 0, "recorded_at": "yesterday"}, "invalid", "recorded_at"),
    ],
)
def test_a_place_that_is_not_in_the_book_is_refused(reader, body, code, message):
    _, api, book = reader
    assert_error(api.put(f"/api/v1/books/{book.uuid}/progress", body), 400, code, message)


def test_the_web_player_must_send_its_csrf_token_to_write(reader):
    user, _, book = reader
    refused = web_player(user, csrf=False).put(
        f"/api/v1/books/{book.uuid}/progress",
        {"chapter": 1, "position_ms": 1},
        content_type="application/json",
    )
    assert_error(refused, 403, "permission_denied", "CSRF")


def test_bookmarks_are_added_listed_in_reading_order_changed_and_deleted(reader):
    _, api, book = reader
    path = f"/api/v1/books/{book.uuid}/bookmarks"
    later = api.post(path, {"chapter": 2, "position_ms": 500, "note": "  the storm  "})
    assert later.status_code == 201, later.content
    assert later.json()["note"] == "the storm"
    earlier = api.post(path, {"chapter": 1, "position_ms": 900}).json()
    listed = api.get(path).json()
    assert [b["id"] for b in listed["results"]] == [earlier["id"], later.json()["id"]]

    changed = api.patch(f"{path}/{earlier['id']}", {"note": "harbour lights"})
    assert changed.status_code == 200
    assert (changed.json()["note"], changed.json()["position_ms"]) == ("harbour lights", 900)
    assert api.get(f"{path}/{earlier['id']}").json()["note"] == "harbour lights"

    assert api.delete(f"{path}/{earlier['id']}").status_code == 204
    assert_error(api.get(f"{path}/{earlier['id']}"), 404, "not_found")
    assert api.get(path).json()["count"] == 1


def test_a_bookmark_cannot_be_moved_out_of_the_book(reader):
    _, api, book = reader
    path = f"/api/v1/books/{book.uuid}/bookmarks"
    mark = api.post(path, {"chapter": 1, "position_ms": 0}).json()
    assert_error(api.patch(f"{path}/{mark['id']}", {"chapter": 9}), 400, "unknown_chapter", "no chapter 9")
    assert_error(api.post(path, {"chapter": 9, "position_ms": 0}), 400, "unknown_chapter")
    assert_error(api.post(path, {"chapter": 1, "position_ms": 0, "note": "n" * 501}), 400, "invalid", "note")


def test_a_bookmark_is_found_only_under_its_own_book(reader, tmp_path):
    user, api, book = reader
    other = ready_book(user, tmp_path / "other")
    mark = api.post(f"/api/v1/books/{book.uuid}/bookmarks", {"chapter": 1, "position_ms": 0}).json()
    assert_error(api.get(f"/api/v1/books/{other.uuid}/bookmarks/{mark['id']}"), 404, "not_found")


def test_a_book_with_the_most_bookmarks_takes_no_more(reader):
    _, api, book = reader
    Bookmark.objects.bulk_create(
        Bookmark(book=book, chapter=1, position_ms=n) for n in range(MAX_BOOKMARKS_PER_BOOK)
    )
    refused = api.post(f"/api/v1/books/{book.uuid}/bookmarks", {"chapter": 1, "position_ms": 0})
    assert_error(refused, 409, "too_many_bookmarks", "Delete some")


def test_the_web_player_adds_a_bookmark_with_its_session(reader):
    user, api, book = reader
    added = web_player(user).post(
        f"/api/v1/books/{book.uuid}/bookmarks",
        {"chapter": 3, "position_ms": 42},
        content_type="application/json",
    )
    assert added.status_code == 201, added.content
    assert api.get(f"/api/v1/books/{book.uuid}/bookmarks").json()["count"] == 1


def test_other_endpoints_still_refuse_the_browser_session(reader):
    user, _, _ = reader
    assert_error(web_player(user).get("/api/v1/books"), 401, "not_authenticated")
