"""The conversions API: create and its refusals, list, status with progress, cancel, download links."""

from __future__ import annotations

import zipfile
from io import BytesIO
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.models import Book, Conversion, ConversionChapter, StoredObject
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.storage.services import stored_object_save
from credits.models import CreditEntry, EntryKind
from credits.pricing import describe_credits, format_credits
from credits.selectors import credit_balance_get
from credits.services import credits_grant_by_system
from tests.apiclient import assert_error, person_with_app, ready_book
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}


@pytest.fixture
def reader(tmp_path):
    user, api = person_with_app("reader@example.com")
    credits_grant_by_system(user=user, hundredths=300, reason="test")
    return user, api, ready_book(user, tmp_path)


def create(api, the_book: Book, **overrides: Any):
    body = {"book": str(the_book.uuid), "chapters": [0, 1], "voice": DEFAULT_VOICE, "speed": 1.0, **overrides}
    return api.post("/api/v1/conversions", body)


def test_a_conversion_is_created_charged_and_shown_queued_with_its_chapters(reader):
    user, api, book = reader
    response = create(api, book)
    assert response.status_code == 201, response.content
    body = response.json()
    conversion = Conversion.objects.get(owner=user)
    assert body["id"] == str(conversion.uuid)
    assert body["book"] == str(book.uuid)
    assert body["status"] == "queued"
    assert body["voice"] == DEFAULT_VOICE
    assert (
        body["credits_charged_hundredths"] == conversion.charge_hundredths == -(-conversion.characters // 500)
    )
    assert body["credits_charged"] == f"{conversion.charge_hundredths / 100:.2f}"
    assert body["progress"]["parts_done"] == 0
    assert body["progress"]["parts_total"] == conversion.parts.count()
    assert body["progress"]["chapters_total"] == 2
    assert [(c["number"], c["index"], c["title"], c["status"]) for c in body["chapters"]] == [
        (1, 0, "The Harbour", "rendering"),
        (2, 1, "The Storm", "rendering"),
    ]
    assert credit_balance_get(user=user) == 300 - conversion.charge_hundredths


def test_voice_and_speed_may_be_left_out(reader):
    _, api, book = reader
    response = api.post("/api/v1/conversions", {"book": str(book.uuid), "chapters": [0]})
    assert response.status_code == 201, response.content
    assert (response.json()["voice"], response.json()["speed"]) == (DEFAULT_VOICE, 1.0)


def test_without_enough_credits_a_conversion_is_refused_with_402_and_nothing_is_made(reader, settings):
    settings.CREDITS_CHARS_PER_CREDIT = (
        500  # 5 characters a hundredth: these short chapters cost over a credit
    )
    user, api, book = reader
    first = create(api, book)
    assert first.status_code == 201
    price = first.json()["credits_charged_hundredths"]
    assert price > 100
    affordable = 300 // price
    for _ in range(affordable - 1):
        assert create(api, book).status_code == 201
    left = 300 - affordable * price
    assert_error(
        create(api, book),
        402,
        "insufficient_credits",
        f"needs {describe_credits(price)} and you have {format_credits(left)}.",
    )
    assert Conversion.objects.filter(owner=user).count() == affordable
    assert credit_balance_get(user=user) == left


@pytest.mark.parametrize(
    ("overrides", "status", "code", "message"),
    [
        ({"chapters": [7]}, 400, "unknown_chapter", "no chapter 8"),
        ({"chapters": []}, 400, "no_chapters_selected", "at least one chapter"),
        ({"chapters": [-1]}, 400, "invalid", "chapters"),
        ({"chapters": "all"}, 400, "invalid", "chapters"),
        ({"voice": "piper:nobody"}, 400, "unknown_voice", "no voice"),
        ({"speed": 3}, 400, "invalid", "speed"),
        ({"speed": "fast"}, 400, "invalid", "speed"),
        ({"book": "not-a-uuid"}, 400, "invalid", "book"),
        ({"book": "00000000-0000-4000-8000-000000000000"}, 404, "not_found", ""),
    ],
)
def test_a_request_the_service_cannot_take_is_refused_with_a_message(
    reader, overrides, status, code, message
):
    _, api, book = reader
    assert_error(create(api, book, **overrides), status, code, message)
    assert not Conversion.objects.exists()
    assert not CreditEntry.objects.filter(kind=EntryKind.CHARGE).exists()


def test_a_book_still_being_read_cannot_be_converted(reader):
    user, api, _ = reader
    unread = Book.objects.create(owner=user, original_key="k", original_filename="x.epub", original_size=1)
    assert_error(create(api, unread, chapters=[0]), 409, "book_not_ready", "not ready")


def test_the_sixth_conversion_in_an_hour_is_refused_with_429(reader, settings):
    _, api, book = reader
    settings.CREDITS_RATE_LIMITS = {"conversion": "1/h"}
    assert create(api, book, chapters=[0]).status_code == 201
    refused = create(api, book, chapters=[1])
    assert_error(refused, 429, "rate_limited", "limit of 1 conversion per hour")
    assert int(refused["Retry-After"]) > 0


def test_conversions_are_listed_newest_first_and_filtered(reader, tmp_path):
    user, api, book = reader
    other_book = ready_book(user, tmp_path / "other")
    first = create(api, book, chapters=[0]).json()["id"]
    second = create(api, other_book, chapters=[0]).json()["id"]
    listed = api.get("/api/v1/conversions").json()
    assert [c["id"] for c in listed["results"]] == [second, first]
    only = api.get("/api/v1/conversions", {"book": str(book.uuid)}).json()["results"]
    assert [c["id"] for c in only] == [first]
    assert api.get("/api/v1/conversions", {"status": "completed"}).json()["count"] == 0
    assert_error(api.get("/api/v1/conversions", {"status": "nearly"}), 400, "invalid", "status")


def test_the_status_shows_progress_and_each_chapter(reader):
    _, api, book = reader
    created = create(api, book).json()
    status = api.get(f"/api/v1/conversions/{created['id']}").json()
    assert status["status"] == "queued"
    assert set(status["progress"]) == {
        "percent",
        "parts_done",
        "parts_total",
        "chapters_ready",
        "chapters_total",
        "eta_seconds",
    }
    assert status["progress"]["percent"] == 0.0


def test_cancelling_refunds_the_unrendered_share_and_a_second_cancel_changes_nothing(reader):
    user, api, book = reader
    created = create(api, book).json()
    cancelled = api.post(f"/api/v1/conversions/{created['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert credit_balance_get(user=user) == 300
    again = api.post(f"/api/v1/conversions/{created['id']}/cancel")
    assert again.status_code == 200
    assert CreditEntry.objects.filter(kind=EntryKind.REFUND).count() == 1


def completed(conversion: Conversion) -> None:
    """Arrange what the pipeline leaves when it has finished (the journey test runs the real one)."""
    now = timezone.now()
    for conversion_chapter in conversion.selections.all():
        ConversionChapter.objects.filter(pk=conversion_chapter.pk).update(
            status=ConversionChapter.Status.READY, gain_db=0.0, duration_ms=1000, finished_at=now
        )
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.COMPLETED, started_at=now, finished_at=now, duration_ms=2000
    )


def test_a_completed_conversion_cannot_be_cancelled(reader):
    _, api, book = reader
    created = create(api, book).json()
    completed(Conversion.objects.get(uuid=created["id"]))
    assert_error(
        api.post(f"/api/v1/conversions/{created['id']}/cancel"),
        409,
        "conversion_not_cancellable",
        "already completed",
    )


def test_a_queued_conversion_offers_no_files_yet(reader):
    _, api, book = reader
    created = create(api, book).json()
    files = api.get(f"/api/v1/conversions/{created['id']}/downloads").json()
    assert files["m4b"] is None
    assert files["mp3_zip"] is None
    assert [(c["number"], c["mp3"], c["captions"]) for c in files["chapters"]] == [
        (1, None, None),
        (2, None, None),
    ]


def test_a_completed_conversion_offers_links_that_download_its_files(reader):
    user, api, book = reader
    created = create(api, book).json()
    conversion = Conversion.objects.get(uuid=created["id"])
    files = {
        storage_keys.m4b_key(**deliverable_ids(conversion)): (
            StoredObject.Kind.M4B,
            b"m4b audio",
        ),
        **{
            storage_keys.mp3_key(**deliverable_ids(conversion), number=n): (
                StoredObject.Kind.MP3,
                f"mp3 {n}".encode(),
            )
            for n in (1, 2)
        },
        **{
            storage_keys.captions_key(**deliverable_ids(conversion), number=n): (
                StoredObject.Kind.VTT,
                f"WEBVTT {n}".encode(),
            )
            for n in (1, 2)
        },
    }
    for key, (kind, data) in files.items():
        stored_object_save(key=key, content=BytesIO(data), kind=kind, owner=user, book=book)
    completed(conversion)

    body = api.get(f"/api/v1/conversions/{created['id']}/downloads").json()
    assert body["status"] == "completed"
    browser = Client()

    def fetch(link: dict[str, Any]) -> bytes:
        assert link["url"].startswith("http://testserver/")
        response = browser.get(link["url"].removeprefix("http://testserver"))
        assert response.status_code == 200
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]

    assert fetch(body["m4b"]) == b"m4b audio"
    assert body["m4b"]["size"] == len(b"m4b audio")
    assert [fetch(c["mp3"]) for c in body["chapters"]] == [b"mp3 1", b"mp3 2"]
    assert [fetch(c["captions"]) for c in body["chapters"]] == [b"WEBVTT 1", b"WEBVTT 2"]
    # The MP3s as one zip, through a signed link that needs no session.
    assert body["mp3_zip"]["content_type"] == "application/zip"
    assert body["mp3_zip"]["files"] == 2
    archive = zipfile.ZipFile(BytesIO(fetch(body["mp3_zip"])))
    assert [archive.read(name) for name in archive.namelist()] == [b"mp3 1", b"mp3 2"]


def test_a_conversion_whose_files_would_not_fit_in_the_quota_is_refused_with_413_before_charging(
    reader, settings
):
    user, api, book = reader
    used = sum(StoredObject.objects.filter(owner=user).values_list("size", flat=True))
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": used + 10, "premium": used + 10}
    assert_error(create(api, book), 413, "storage_quota_exceeded", "Delete some books")
    assert credit_balance_get(user=user) == 300
