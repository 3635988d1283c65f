"""Every endpoint that names an object, called by user B with user A's objects: a 404, and nothing changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks import services
from audiobooks.lexicon.checks import EntryInput
from audiobooks.lexicon.services import lexicon_entry_create
from audiobooks.models import Book, Bookmark, Conversion, LexiconEntry, ListeningProgress, StoredObject
from audiobooks.pipeline import submit
from credits.models import CreditEntry
from credits.services import credits_grant_by_system
from tests.apiclient import Api, assert_error, person_with_app, ready_book
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db


@dataclass
class World:
    a_book: Book
    a_conversion: Conversion
    a_bookmark: Bookmark
    a_upload: str
    b_book: Book
    b: Api
    a_entry: LexiconEntry

    def ids(self) -> dict[str, Any]:
        return {
            "book": self.a_book.uuid,
            "conversion": self.a_conversion.uuid,
            "bookmark": self.a_bookmark.uuid,
            "upload": self.a_upload,
            "b_book": self.b_book.uuid,
            "entry": self.a_entry.uuid,
        }


@pytest.fixture
def world(tmp_path, settings) -> World:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h", "upload": "1000/h"}
    a, _ = person_with_app("a@example.com")
    b, b_api = person_with_app("b@example.com")
    for user in (a, b):
        credits_grant_by_system(user=user, hundredths=300, reason="test")
    a_book = ready_book(a, tmp_path / "a")
    conversion = submit.conversion_submit(
        user=a, book_uuid=a_book.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE, speed=1.0
    )
    bookmark = Bookmark.objects.create(book=a_book, chapter=1, position_ms=5)
    upload = services.upload_start(user=a, filename="a.epub", size=10, content_type="application/epub+zip")
    entry = lexicon_entry_create(
        user=a, book_uuid=a_book.uuid, entry=EntryInput("Harbour", respelling="Harbor")
    )
    return World(
        a_book, conversion, bookmark, str(upload.upload_id), ready_book(b, tmp_path / "b"), b_api, entry
    )


PLACE = {"chapter": 1, "position_ms": 0}

# (method, path, body): every endpoint that takes an id, with A's ids filled in.
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/books/{book}", None),
    ("DELETE", "/api/v1/books/{book}", None),
    ("POST", "/api/v1/books/{book}/quote", {"chapters": [0]}),
    ("GET", "/api/v1/books/{book}/progress", None),
    ("PUT", "/api/v1/books/{book}/progress", PLACE),
    ("GET", "/api/v1/books/{book}/bookmarks", None),
    ("POST", "/api/v1/books/{book}/bookmarks", PLACE),
    ("GET", "/api/v1/books/{book}/bookmarks/{bookmark}", None),
    ("PATCH", "/api/v1/books/{book}/bookmarks/{bookmark}", {"note": "mine now"}),
    ("DELETE", "/api/v1/books/{book}/bookmarks/{bookmark}", None),
    # A's bookmark under B's own book:
    ("GET", "/api/v1/books/{b_book}/bookmarks/{bookmark}", None),
    ("PATCH", "/api/v1/books/{b_book}/bookmarks/{bookmark}", {"note": "mine now"}),
    ("DELETE", "/api/v1/books/{b_book}/bookmarks/{bookmark}", None),
    ("POST", "/api/v1/uploads/{upload}/finish", None),
    ("POST", "/api/v1/conversions", {"book": "{book}", "chapters": [0]}),
    ("GET", "/api/v1/conversions/{conversion}", None),
    ("POST", "/api/v1/conversions/{conversion}/cancel", None),
    ("POST", "/api/v1/conversions/{conversion}/revisions", None),
    ("POST", "/api/v1/conversions/{conversion}/revisions/quote", {"chapters": [{"number": 1, "speed": 1.5}]}),
    ("GET", "/api/v1/conversions/{conversion}/downloads", None),
    ("GET", "/api/v1/lexicon?book={book}", None),
    ("POST", "/api/v1/lexicon", {"text": "Storm", "respelling": "Sturm", "book": "{book}"}),
    ("GET", "/api/v1/lexicon/{entry}", None),
    ("PUT", "/api/v1/lexicon/{entry}", {"text": "Harbour", "respelling": "mine now"}),
    ("DELETE", "/api/v1/lexicon/{entry}", None),
    ("GET", "/api/v1/lexicon/export.pls?book={book}", None),
    ("GET", "/api/v1/lexicon/export.csv?book={book}", None),
]


def filled(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: filled(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_another_users_object_is_not_found_and_stays_as_it_was(world, method, path, body):
    ids = world.ids()
    charges_before = CreditEntry.objects.count()
    response = world.b.request(method, filled(path, ids), filled(body, ids))

    error = assert_error(response, 404, "upload_not_found" if "uploads" in path else "not_found")
    assert str(world.a_book.uuid) not in error["message"]
    assert Book.objects.filter(pk=world.a_book.pk).exists()
    world.a_conversion.refresh_from_db()
    assert world.a_conversion.status == Conversion.Status.QUEUED
    world.a_bookmark.refresh_from_db()
    assert world.a_bookmark.note == ""
    assert StoredObject.objects.filter(uuid=ids["upload"], book__isnull=True).exists()
    assert CreditEntry.objects.count() == charges_before
    assert not ListeningProgress.objects.filter(book=world.a_book).exists()
    assert Bookmark.objects.filter(book=world.a_book).count() == 1
    assert list(LexiconEntry.objects.values_list("text", "respelling")) == [("Harbour", "Harbor")]


def test_lists_never_show_another_users_objects(world):
    ids = world.ids()
    assert [b["id"] for b in world.b.get("/api/v1/books").json()["results"]] == [str(world.b_book.uuid)]
    assert world.b.get("/api/v1/conversions").json()["count"] == 0
    assert world.b.get("/api/v1/conversions", {"book": str(ids["book"])}).json()["count"] == 0
    entries = world.b.get("/api/v1/credits/entries").json()["results"]
    assert [e["amount"] for e in entries] == ["3.00"]
