"""A person's own figures and storage against their quota: ``/api/v1/me/statistics`` and the account page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.models import Book, Conversion, Part, StoredObject
from audiobooks.tests.factories import completed_conversion
from tests.apiclient import person_with_app, ready_book

pytestmark = pytest.mark.django_db

HOUR_MS = 3_600_000


def conversion(book: Book, status: str) -> Conversion:
    made = completed_conversion(book)
    Conversion.objects.filter(pk=made.pk).update(
        status=status,
        error_message="It broke." if status == Conversion.Status.FAILED else "",
        cancel_requested=status == Conversion.Status.CANCELLED,
        finished_at=made.finished_at if status in Conversion.FINISHED else None,
    )
    return made


def done_part(made: Conversion, index: int, duration_ms: int) -> Part:
    chapter = made.book.chapters.order_by("index").first()
    assert chapter is not None
    return Part.objects.create(
        conversion=made, chapter=chapter, index=index, chapter_part_index=index, text="Some words.",
        characters=11, cache_key=f"{index:064d}", status=Part.Status.DONE, duration_ms=duration_ms,
        finished_at=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def reader(tmp_path) -> tuple[User, Any, Book]:
    user, api = person_with_app("reader@example.com")
    return user, api, ready_book(user, tmp_path / "book")


def test_a_new_reader_has_nothing_yet_and_no_success_rate(db):
    _, api = person_with_app("new@example.com")
    body = api.get("/api/v1/me/statistics").json()
    assert body == {
        "books": 0,
        "conversions": dict.fromkeys(Conversion.Status.values, 0),
        "hours_rendered": 0.0,
        "success_rate": None,
        "storage": {
            "used_bytes": 0,
            "quota_bytes": 2_000_000_000,
            "free_bytes": 2_000_000_000,
            "used_percent": 0.0,
        },
    }


def test_the_figures_count_books_conversions_by_status_hours_and_the_success_rate(reader, tmp_path):
    user, api, book = reader
    ready_book(user, tmp_path / "second")
    completed = [conversion(book, Conversion.Status.COMPLETED) for _ in range(3)]
    conversion(book, Conversion.Status.FAILED)
    cancelled = conversion(book, Conversion.Status.CANCELLED)
    conversion(book, Conversion.Status.SYNTHESIZING)
    done_part(completed[0], 0, HOUR_MS)
    done_part(completed[1], 0, HOUR_MS // 2)
    done_part(cancelled, 0, HOUR_MS // 4)  # rendered before the cancel: it was rendered all the same

    body = api.get("/api/v1/me/statistics").json()

    assert body["books"] == 2
    assert body["conversions"] == {
        "queued": 0, "synthesizing": 1, "assembling": 0, "completed": 3, "failed": 1, "cancelled": 1,
    }  # fmt: skip
    assert body["hours_rendered"] == 1.75
    assert body["success_rate"] == 0.75, "3 of the 4 that ended on their own; a cancel is not a failure"


def test_storage_used_is_shown_against_the_plans_quota(reader, settings):
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": 10_000}
    user, api, _ = reader
    used = sum(StoredObject.objects.filter(owner=user).values_list("size", flat=True))
    assert used > 0
    storage = api.get("/api/v1/me/statistics").json()["storage"]
    assert storage == {
        "used_bytes": used,
        "quota_bytes": 10_000,
        "free_bytes": max(0, 10_000 - used),
        "used_percent": round(100 * used / 10_000, 1),
    }


def test_nobody_sees_anyone_elses_figures(reader, tmp_path):
    _, _, book = reader
    conversion(book, Conversion.Status.COMPLETED)
    _, stranger = person_with_app("stranger@example.com")
    body = stranger.get("/api/v1/me/statistics").json()
    assert (body["books"], body["conversions"]["completed"], body["storage"]["used_bytes"]) == (0, 0, 0)


def test_the_figures_need_a_session(db):
    assert Client().get("/api/v1/me/statistics").status_code == 401


def test_the_account_page_shows_storage_against_the_quota_and_the_figures(reader, settings):
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": 5_000_000}
    user, _, book = reader
    done_part(conversion(book, Conversion.Status.COMPLETED), 0, 2 * HOUR_MS)
    conversion(book, Conversion.Status.FAILED)
    browser = Client()
    browser.force_login(user)

    page = browser.get("/accounts/settings/").content.decode()

    assert "Your library" in page
    assert "of 4.8\xa0MB used" in page
    used = sum(StoredObject.objects.filter(owner=user).values_list("size", flat=True))
    assert f'<progress class="storage-meter" max="5000000" value="{used}"' in page
    assert "1 completed · 1 failed" in page
    assert "<strong>Hours rendered</strong><span>2.0</span>" in page
    assert "50% of finished audiobooks completed" in page


def test_the_account_page_says_so_before_any_audiobook_has_finished(reader):
    user, _, _ = reader
    browser = Client()
    browser.force_login(user)
    assert "None finished yet" in browser.get("/accounts/settings/").content.decode()
