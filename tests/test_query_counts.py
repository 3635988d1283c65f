"""Every list endpoint and page answers in a fixed number of queries, however many rows it lists.

Each is asked twice, with two rows to list and with four: both must take
exactly the number written here. A change that makes a page read row by row
fails here; one that adds a query on purpose updates the number.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from audiobooks.models import Book, Bookmark
from audiobooks.tests.factories import completed_conversion
from credits.services import credits_grant_by_system
from tests.apiclient import person_with_app, ready_book

pytestmark = pytest.mark.django_db


def queries(get: Callable[[str], Any], path: str) -> int:
    get(path)  # warm what is cached per session or per process (the voice catalogue, waffle)
    with CaptureQueriesContext(connection) as captured:
        response = get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(captured.captured_queries)


class Shelf:
    """A reader with books, each with a completed conversion and a bookmark, and a ledger."""

    def __init__(self, user: User, directory: Path) -> None:
        self.user, self.directory = user, directory
        self.books: list[Book] = []
        self.first: Book | None = None

    def add(self, count: int) -> None:
        for _ in range(count):
            book = ready_book(self.user, self.directory / str(len(self.books)))
            completed_conversion(book)
            Bookmark.objects.create(book=self.first or book, chapter=1, position_ms=len(self.books))
            credits_grant_by_system(user=self.user, hundredths=100, reason="a list entry")
            self.books.append(book)
            self.first = self.first or book


# What each answer costs: the session (one read, accounts.tokens) and user, then its own reads.
API_LISTS = {
    "/api/v1/books": 4,
    "/api/v1/conversions": 4,
    "/api/v1/credits/entries": 4,
    "/api/v1/voices": 3,
    "/api/v1/me/statistics": 8,  # storage counts the Parts kept for current audiobooks
    "bookmarks": 5,
}
PAGES = {
    "/books/": 11,
    "/books/?partial=1": 11,
    "/credits/": 16,  # with billing (subscription, customer, payments, shortfall); Google set up?
    "/voices/": 8,
    "/accounts/settings/": 19,  # Google set up (nav, page); storage counts the Parts kept
    "book": 18,  # the history: the newest revisions
    "convert": 13,  # however many chapters: audiobooks/tests/test_chapter_picker.py tries 2,000
    "status": 13,
}


def _path(path: str, shelf: Shelf) -> str:
    assert shelf.first is not None
    book = shelf.first.uuid
    return {
        "bookmarks": f"/api/v1/books/{book}/bookmarks",
        "book": f"/books/{book}/",
        "convert": f"/books/{book}/convert",
        "status": f"/books/{book}/status",
    }.get(path, path)


@pytest.mark.parametrize("path", list(API_LISTS))
def test_an_api_list_takes_as_many_queries_for_four_rows_as_for_two(path, tmp_path):
    user, api = person_with_app("lister@example.com")
    shelf = Shelf(user, tmp_path)
    shelf.add(2)
    two = queries(api.get, _path(path, shelf))
    shelf.add(2)
    assert (two, queries(api.get, _path(path, shelf))) == (API_LISTS[path], API_LISTS[path])


@pytest.mark.parametrize("path", list(PAGES))
def test_a_page_takes_as_many_queries_for_four_rows_as_for_two(path, tmp_path):
    user, _ = person_with_app("reader@example.com")
    browser = Client()
    browser.force_login(user)
    shelf = Shelf(user, tmp_path)
    shelf.add(2)
    two = queries(browser.get, _path(path, shelf))
    shelf.add(2)
    assert (two, queries(browser.get, _path(path, shelf))) == (PAGES[path], PAGES[path])
