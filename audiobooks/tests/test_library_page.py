"""The library: search by title and author, sort, a list view, listening progress and "continue listening"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Book, ConversionChapter, ListeningProgress
from audiobooks.selectors import library_for_user
from audiobooks.tests.factories import completed_conversion

pytestmark = pytest.mark.django_db


def book(owner: User, title: str, authors: list[str], *, days_ago: int = 0) -> Book:
    made = Book.objects.create(
        owner=owner, status=Book.Status.READY, title=title, authors=authors, original_key="k",
        original_filename=f"{title}.epub", original_size=1,
    )  # fmt: skip
    Book.objects.filter(pk=made.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return made


def listened(owner: User, made: Book, *, chapter: int, position_ms: int, minutes_ago: int) -> None:
    """A completed two-chapter conversion (60 s and 40 s) and the reader's place in it."""
    conversion = completed_conversion(made)
    for position, duration in enumerate((60_000, 40_000)):
        chapter_row = made.chapters.create(
            index=position, group=position, title=f"C{position}", text="x", words=1, chars=1
        )
        ConversionChapter.objects.create(
            conversion=conversion, chapter=chapter_row, position=position, status="ready", gain_db=0.0,
            duration_ms=duration, finished_at=timezone.now(),
        )  # fmt: skip
    ListeningProgress.objects.create(
        book=made, chapter=chapter, position_ms=position_ms,
        recorded_at=timezone.now() - timedelta(minutes=minutes_ago),
    )  # fmt: skip


@pytest.fixture
def shelf(owner: User) -> dict[str, Book]:
    return {
        "leaves": book(owner, "Leaves of Grass", ["Walt Whitman"], days_ago=3),
        "dictionary": book(owner, "The Devil's Dictionary", ["Ambrose Bierce"], days_ago=2),
        "holmes": book(owner, "The Adventures of Sherlock Holmes", ["Arthur Conan Doyle"], days_ago=1),
        "anon": book(owner, "Beowulf", [], days_ago=0),
    }


def titles(owner: User, **query: str) -> list[str]:
    return [row.book.display_title for row in library_for_user(user=owner, **query)]


def test_the_library_sorts_by_recent_title_and_author(owner: User, shelf: dict[str, Book]) -> None:
    assert titles(owner) == [
        "Beowulf",
        "The Adventures of Sherlock Holmes",
        "The Devil's Dictionary",
        "Leaves of Grass",
    ]
    assert titles(owner, sort="title") == [
        "Beowulf", "Leaves of Grass", "The Adventures of Sherlock Holmes", "The Devil's Dictionary"
    ]  # fmt: skip
    # By first author (Arthur, Ambrose… compare lower-cased whole names); no author comes last.
    assert titles(owner, sort="author") == [
        "The Devil's Dictionary", "The Adventures of Sherlock Holmes", "Leaves of Grass", "Beowulf"
    ]  # fmt: skip


def test_the_library_searches_titles_and_authors(owner: User, shelf: dict[str, Book], stranger: User) -> None:
    assert titles(owner, q="whitman") == ["Leaves of Grass"]
    assert titles(owner, q="DICTIONARY") == ["The Devil's Dictionary"]
    book(stranger, "Whitman's Other Book", ["Walt Whitman"])
    assert titles(stranger, q="whitman") == ["Whitman's Other Book"]  # each reader searches their own


def test_listening_progress_is_the_share_heard_of_the_newest_conversion(
    owner: User, shelf: dict[str, Book]
) -> None:
    listened(owner, shelf["leaves"], chapter=2, position_ms=20_000, minutes_ago=5)  # 60 + 20 of 100 s
    rows = {row.book.title: row for row in library_for_user(user=owner)}
    assert rows["Leaves of Grass"].listened == pytest.approx(0.8)
    assert rows["Beowulf"].listened is None


def test_the_page_shows_continue_listening_progress_bars_search_sort_and_list_view(
    owner: User, shelf: dict[str, Book]
) -> None:
    listened(owner, shelf["leaves"], chapter=1, position_ms=30_000, minutes_ago=1)
    listened(owner, shelf["dictionary"], chapter=2, position_ms=39_900, minutes_ago=2)  # finished
    listened(owner, shelf["holmes"], chapter=1, position_ms=10_000, minutes_ago=3)
    client = Client()
    client.force_login(owner)
    page = client.get("/books/").content.decode()
    row = page[page.index('id="continue-title"') : page.index("library-tools")]
    # The last books started and not finished, most recent first.
    assert re.findall(r'class="continue-title">([^<]+)<', row) == [
        "Leaves of Grass",
        "The Adventures of Sherlock Holmes",
    ]
    assert 'aria-valuenow="30"' in page  # Leaves of Grass: 30 of 100 s
    assert 'aria-label="Listened to Leaves of Grass"' in page
    searched = client.get("/books/", {"q": "bierce", "sort": "title", "view": "list"}).content.decode()
    assert "library-list" in searched
    assert "The Devil&#x27;s Dictionary" in searched
    assert "Leaves of Grass" not in searched
    assert "Continue listening" not in searched
    assert 'data-poll-url="/books/?partial=1&amp;q=bierce&amp;sort=title&amp;view=list"' in searched
    nothing = client.get("/books/", {"q": "no such book"}).content.decode()
    assert "No books match “no such book”" in nothing


def test_odd_library_parameters_fall_back_to_the_defaults(owner: User, shelf: dict[str, Book]) -> None:
    client = Client()
    client.force_login(owner)
    response = client.get("/books/", {"sort": "'; drop table", "view": "<script>", "q": "x" * 5000})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("</header>", 1)[-1].split("<footer", 1)[0]
