"""The web player's bookmarks and sleep timer: the page's controls, and the bookmark endpoints behind them."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from audiobooks.models import Book, Bookmark
from audiobooks.tests.factories import completed_conversion, story_book

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def book(owner: User, tmp_path: Path) -> Book:
    return story_book(owner, tmp_path, titles=["The Harbour", "The Storm"])


def test_a_bookmark_is_added_listed_in_reading_order_and_deleted(owner: User, book: Book) -> None:
    client = signed_in(owner)
    url = f"/books/{book.uuid}/bookmarks"
    later = client.post(url, {"chapter": "2", "seconds": "65.4", "note": "  the storm  "})
    assert later.status_code == 201
    made = later.json()["bookmark"]
    assert made == {"id": made["id"], "chapter": 2, "seconds": 65.4, "at": "1:05", "note": "the storm"}
    earlier = client.post(url, {"chapter": "1", "seconds": "3"})
    assert earlier.status_code == 201
    listed = client.get(url).json()["bookmarks"]
    assert [(b["chapter"], b["seconds"], b["note"]) for b in listed] == [(1, 3.0, ""), (2, 65.4, "the storm")]
    gone = client.post(f"{url}/{earlier.json()['bookmark']['id']}/delete")
    assert gone.status_code == 204
    assert list(Bookmark.objects.filter(book=book).values_list("chapter", flat=True)) == [2]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"chapter": "0", "seconds": "1"}, 400, "invalid_bookmark"),
        ({"chapter": "1", "seconds": "-1"}, 400, "invalid_bookmark"),
        ({"chapter": "one", "seconds": "1"}, 400, "invalid_bookmark"),
        ({"chapter": "1", "seconds": "1", "note": "x" * 501}, 400, "invalid_bookmark"),
        ({"chapter": "9", "seconds": "1"}, 400, "unknown_chapter"),
    ],
)
def test_a_bad_bookmark_is_refused_with_its_own_code(
    owner: User, book: Book, data: dict[str, str], status: int, code: str
) -> None:
    response = signed_in(owner).post(f"/books/{book.uuid}/bookmarks", data)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not Bookmark.objects.filter(book=book).exists()


def test_a_stranger_can_neither_see_nor_add_nor_delete_bookmarks(
    owner: User, stranger: User, book: Book
) -> None:
    mark = Bookmark.objects.create(book=book, chapter=1, position_ms=1000)
    client = signed_in(stranger)
    assert client.get(f"/books/{book.uuid}/bookmarks").status_code == 404
    assert client.post(f"/books/{book.uuid}/bookmarks", {"chapter": "1", "seconds": "1"}).status_code == 404
    assert client.post(f"/books/{book.uuid}/bookmarks/{mark.uuid}/delete").status_code == 404
    assert Bookmark.objects.filter(pk=mark.pk).exists()


def test_the_player_has_a_sleep_timer_a_bookmark_button_and_the_bookmarks_list(
    owner: User, book: Book
) -> None:
    completed_conversion(book)
    Bookmark.objects.create(book=book, chapter=2, position_ms=3_725_000, note="<b>not bold</b>")
    page = html.unescape(signed_in(owner).get(f"/books/{book.uuid}/").content.decode())
    for minutes in (5, 15, 30, 60):
        assert f'<option value="{minutes * 60}">{minutes} min</option>' in page
    assert '<option value="chapter">End of chapter</option>' in page
    assert "Bookmark this place" in page
    assert 'data-chapter="2" data-seconds="3725.0">Chapter 2 · 1:02:05' in page
    assert "<b>not bold</b>" not in signed_in(owner).get(f"/books/{book.uuid}/").content.decode()
