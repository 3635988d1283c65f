"""Submitting and cancelling a conversion: checks, one charge, one refund, Parts recorded."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.http import Http404
from django.test import Client
from django.urls import reverse

from accounts.models import User
from audiobooks.errors import (
    BookNotReady,
    ConversionNotCancellable,
    InvalidSpeed,
    NoChaptersSelected,
    UnknownChapter,
    UnknownVoice,
)
from audiobooks.models import Book, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.pipeline.parts import PART_MAX_CHARS, chapter_parts
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.selectors import book_conversion_quote, part_keys_in_use
from audiobooks.storage import keys as storage_keys
from audiobooks.tests.factories import CORPUS, ingest_now, upload_file
from credits.errors import InsufficientCredits, RateLimited, StorageQuotaExceeded
from credits.models import CreditEntry, EntryKind
from credits.pricing import quote_hundredths
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tests.concurrency import run_at_once
from tts_engine.registry import DEFAULT_VOICE

SHERLOCK = CORPUS / "good" / "sherlock-holmes.epub"
SCANDAL = "A Scandal in Bohemia"


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}


def ingested_book(user: User) -> Book:
    book = upload_file(user, SHERLOCK)  # its ingestion task is queued on commit; run it here
    book = ingest_now(book)
    assert book.status == Book.Status.READY
    return book


def chapter_index(book: Book, title: str = SCANDAL) -> int:
    return book.chapters.get(title=title).index


def submit(user: User, book: Book, **overrides: Any) -> Conversion:
    arguments: dict[str, Any] = {
        "user": user,
        "book_uuid": book.uuid,
        "voice_key": DEFAULT_VOICE,
        "speed": 1.0,
    }
    if "chapter_indexes" not in overrides:
        arguments["chapter_indexes"] = [chapter_index(book)]
    return conversion_submit(**{**arguments, **overrides})


def scandal_price(book: Book) -> int:
    """What submitting "A Scandal in Bohemia" costs, in hundredths: its text as cut into Parts."""
    parts = chapter_parts(text=book.chapters.get(title=SCANDAL).text)
    return quote_hundredths(sum(len(part.text) for part in parts))


def charges() -> int:
    return CreditEntry.objects.filter(kind=EntryKind.CHARGE).count()


@pytest.mark.django_db
class TestSubmit:
    def test_a_submission_charges_once_and_records_a_queued_conversion_with_its_parts(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        conversion = submit(owner, book)

        assert conversion.status == Conversion.Status.QUEUED
        assert conversion.owner == owner
        assert conversion.book == book
        parts = list(conversion.parts.order_by("index"))
        assert [part.index for part in parts] == list(range(len(parts)))
        assert len(parts) > 1, "a story of ~50k characters is several Parts"
        assert all(part.status == Part.Status.PENDING and part.attempts == 0 for part in parts)
        assert all(len(part.text) <= PART_MAX_CHARS for part in parts)
        assert [part.speaks_title for part in parts] == [True] + [False] * (len(parts) - 1)
        assert all(len(part.cache_key) == 64 for part in parts)
        assert conversion.characters == sum(part.characters for part in parts)
        assert list(conversion.chapters.values_list("title", flat=True)) == [SCANDAL]

        charge = CreditEntry.objects.get(kind=EntryKind.CHARGE)
        assert charge.conversion_uuid == conversion.uuid
        # One hundredth per started 500 characters, not a whole credit per started 50,000.
        assert conversion.charge_hundredths == -charge.amount == -(-conversion.characters // 500)
        assert credit_balance_get(user=owner) == 500 - conversion.charge_hundredths
        assert not ledger_audit().mismatches

    def test_chapters_are_kept_in_reading_order_whatever_order_they_were_chosen_in(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=1000, reason="test float")
        first, second = sorted(book.chapters.filter(included=True).values_list("index", flat=True))[:2]
        conversion = submit(owner, book, chapter_indexes=[second, first, second])
        positions = ConversionChapter.objects.filter(conversion=conversion).order_by("position")
        assert [conversion_chapter.chapter.index for conversion_chapter in positions] == [first, second]
        chapters_by_part = list(conversion.parts.order_by("index").values_list("chapter__index", flat=True))
        assert chapters_by_part == sorted(chapters_by_part)

    def test_a_replay_with_the_same_idempotency_key_returns_the_same_conversion_and_charges_once(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        first = submit(owner, book, idempotency_key="convert-button-1")
        again = submit(owner, book, idempotency_key="convert-button-1")
        assert again.pk == first.pk
        assert Conversion.objects.count() == 1
        assert charges() == 1

    def test_a_replay_uses_no_rate_limit_slot(self, owner, settings):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=2000, reason="test float")
        settings.CREDITS_RATE_LIMITS = {"conversion": "1/h"}
        key = f"replay-{uuid.uuid4()}"  # the rate-limit counter outlives the test database
        try:
            first = submit(owner, book, idempotency_key=key)
        except RateLimited:
            pytest.skip("this user id already used its slot in an earlier run this hour")
        assert submit(owner, book, idempotency_key=key).pk == first.pk
        with pytest.raises(RateLimited):
            submit(owner, book, idempotency_key=f"{key}-other")

    def test_idempotency_keys_are_scoped_per_user(self, owner, stranger):
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        credits_grant_by_system(user=stranger, hundredths=500, reason="test float")
        mine = submit(owner, ingested_book(owner), idempotency_key="same-key")
        theirs = submit(stranger, ingested_book(stranger), idempotency_key="same-key")
        assert mine.pk != theirs.pk
        assert charges() == 2

    def test_insufficient_credits_is_a_clear_error_and_nothing_is_created(self, owner):
        book = ingested_book(owner)
        with pytest.raises(
            InsufficientCredits, match=r"This conversion needs \d+\.\d\d credits? and you have 0\.00\."
        ):
            submit(owner, book)
        assert not Conversion.objects.exists()
        assert not Part.objects.exists()
        assert charges() == 0

    def test_another_users_book_is_not_found(self, owner, stranger):
        book = ingested_book(owner)
        credits_grant_by_system(user=stranger, hundredths=500, reason="test float")
        with pytest.raises(Http404):
            submit(stranger, book)
        assert not Conversion.objects.exists()
        assert charges() == 0

    def test_a_book_that_is_not_ready_cannot_be_converted(self, owner):
        book = upload_file(owner, SHERLOCK)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        with pytest.raises(BookNotReady, match="not ready to convert"):
            submit(owner, book, chapter_indexes=[0])
        assert not Conversion.objects.exists()

    @pytest.mark.parametrize("speed", [0.49, 2.01, "fast", float("nan")])
    def test_a_speed_outside_half_to_double_is_refused(self, owner, speed):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        with pytest.raises(InvalidSpeed, match=r"between 0\.5 and 2\.0"):
            submit(owner, book, speed=speed)
        assert charges() == 0

    @pytest.mark.parametrize("voice_key", ["piper:no-such-voice", "nonsense", "espeak:en"])
    def test_an_unknown_voice_is_refused(self, owner, voice_key):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        with pytest.raises(UnknownVoice, match="There is no voice"):
            submit(owner, book, voice_key=voice_key)
        assert charges() == 0

    def test_an_empty_chapter_list_is_refused(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        with pytest.raises(NoChaptersSelected, match="Choose at least one chapter"):
            submit(owner, book, chapter_indexes=[])
        assert charges() == 0

    def test_a_chapter_the_book_does_not_have_is_refused(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        with pytest.raises(UnknownChapter, match="This book has no chapter 1000"):
            submit(owner, book, chapter_indexes=[999])
        assert charges() == 0

    def test_the_speed_and_voice_change_the_parts_cache_keys(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=1000, reason="test float")
        normal = submit(owner, book)
        same = submit(owner, book)
        faster = submit(owner, book, speed=1.5)
        keys = {
            c.pk: list(c.parts.order_by("index").values_list("cache_key", flat=True))
            for c in (normal, same, faster)
        }
        assert keys[normal.pk] == keys[same.pk]
        assert not set(keys[normal.pk]) & set(keys[faster.pk])

    def test_a_conversion_whose_audio_would_overfill_the_storage_quota_is_refused_before_charging(
        self, owner, settings
    ):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": book.original_size + 1_000_000}
        with pytest.raises(StorageQuotaExceeded, match=r"This conversion needs .* of storage"):
            submit(owner, book)
        assert not Conversion.objects.exists()
        assert charges() == 0

    def test_over_the_rate_limit_nothing_is_written_or_charged(self, owner, settings):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        settings.CREDITS_RATE_LIMITS = {"conversion": "0/h"}
        with pytest.raises(RateLimited, match="limit of 0 conversions per hour"):
            submit(owner, book)
        assert not Conversion.objects.exists()
        assert charges() == 0


@pytest.mark.django_db
class TestCancel:
    def test_cancelling_refunds_the_unrendered_share_once_even_when_asked_twice(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        conversion = submit(owner, book)
        cancelled = conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        assert cancelled.status == Conversion.Status.CANCELLED
        assert cancelled.cancel_requested
        assert cancelled.finished_at is not None
        again = conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        assert again.status == Conversion.Status.CANCELLED
        assert CreditEntry.objects.filter(kind=EntryKind.REFUND).count() == 1
        assert credit_balance_get(user=owner) == 500
        assert not ledger_audit().mismatches

    def test_cancelling_counts_done_parts_as_rendered(self, owner, settings):
        settings.CREDITS_CHARS_PER_CREDIT = 1_000
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=50000, reason="test float")
        conversion = submit(owner, book)
        done = conversion.parts.order_by("index").first()
        assert done is not None
        Part.objects.filter(pk=done.pk).update(
            status=Part.Status.DONE, duration_ms=1, finished_at=conversion.created_at
        )
        conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        refund = CreditEntry.objects.get(kind=EntryKind.REFUND)
        assert refund.characters == done.characters
        # 1,000 characters a credit: 10 a hundredth; the done Part's full hundredths are kept.
        assert refund.amount == conversion.charge_hundredths - done.characters // 10

    def test_a_completed_conversion_cannot_be_cancelled(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        conversion = submit(owner, book)
        Conversion.objects.filter(pk=conversion.pk).update(
            status=Conversion.Status.COMPLETED,
            started_at=conversion.created_at,
            finished_at=conversion.created_at,
            duration_ms=1000,
        )
        with pytest.raises(ConversionNotCancellable, match="already completed"):
            conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        assert not CreditEntry.objects.filter(kind=EntryKind.REFUND).exists()

    def test_a_stranger_cannot_cancel_someone_elses_conversion(self, owner, stranger):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        conversion = submit(owner, book)
        with pytest.raises(Http404):
            conversion_cancel(user=stranger, conversion_uuid=conversion.uuid)
        conversion.refresh_from_db()
        assert conversion.status == Conversion.Status.QUEUED


@pytest.mark.django_db
class TestQuoteAndCache:
    def test_the_quote_shows_credits_balance_and_no_warning_for_an_english_voice(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=200, reason="test float")
        index = chapter_index(book)
        quote = book_conversion_quote(
            user=owner, book_uuid=book.uuid, chapter_indexes=[index], voice_key=DEFAULT_VOICE
        )
        assert quote.characters == book.chapters.get(index=index).chars
        assert quote.cost_hundredths == -(-quote.characters // 500)
        assert quote.balance_hundredths == 200
        assert str(quote.balance) == "2.00 credits"
        assert quote.language_warning is None

    def test_the_quote_for_another_users_book_is_not_found(self, owner, stranger):
        book = ingested_book(owner)
        with pytest.raises(Http404):
            book_conversion_quote(
                user=stranger, book_uuid=book.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE
            )

    def test_cached_parts_of_running_conversions_are_in_use_and_those_of_finished_ones_are_not(self, owner):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        conversion = submit(owner, book)
        digest = conversion.parts.order_by("index").values_list("cache_key", flat=True)[0]
        key = storage_keys.part_key(digest=digest)
        StoredObject.objects.create(key=key, kind=StoredObject.Kind.PART, size=1, content_type="audio/flac")
        StoredObject.objects.create(
            key=storage_keys.part_key(digest="0" * 64),
            kind=StoredObject.Kind.PART,
            size=1,
            content_type="audio/flac",
        )
        assert list(part_keys_in_use()) == [key]
        conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        assert list(part_keys_in_use()) == []

    def test_the_quote_warns_when_the_voice_speaks_another_language_than_the_book(self, owner):
        book = ingested_book(owner)
        Book.objects.filter(pk=book.pk).update(language="de")
        quote = book_conversion_quote(
            user=owner, book_uuid=book.uuid, chapter_indexes=[chapter_index(book)], voice_key=DEFAULT_VOICE
        )
        assert quote.language_warning is not None
        assert "the book is in de" in quote.language_warning

    def test_staff_see_conversions_and_their_parts_in_the_admin(self, owner, staff):
        book = ingested_book(owner)
        credits_grant_by_system(user=owner, hundredths=500, reason="test float")
        conversion = submit(owner, book)
        client = Client()
        client.force_login(staff)
        listing = client.get(reverse("admin:audiobooks_conversion_changelist"), {"status": "queued"})
        assert listing.status_code == 200
        assert str(conversion.uuid) in listing.content.decode()
        page = client.get(reverse("admin:audiobooks_conversion_change", args=[conversion.pk]))
        assert page.status_code == 200
        assert SCANDAL in page.content.decode(), "the Parts inline names each Part's chapter"


@pytest.mark.django_db(transaction=True)
def test_twenty_submissions_racing_for_the_last_credit_make_exactly_one_conversion(owner):
    book = ingested_book(owner)
    credits_grant_by_system(user=owner, hundredths=scandal_price(book), reason="the last credit")
    results = run_at_once([lambda: submit(owner, book)] * 20)
    converted = [r for r in results if isinstance(r, Conversion)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(converted), len(refused)) == (1, 19), results
    assert all("and you have 0.00." in str(r) for r in refused), [str(r) for r in refused]
    assert Conversion.objects.count() == 1
    assert Part.objects.exclude(conversion=converted[0]).count() == 0
    assert credit_balance_get(user=owner) == 0
    assert not ledger_audit().mismatches


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_from_ten_threads_makes_one_conversion_and_one_charge(owner):
    book = ingested_book(owner)
    credits_grant_by_system(user=owner, hundredths=1000, reason="test float")
    results = run_at_once([lambda: submit(owner, book, idempotency_key="double-click")] * 10)
    assert all(isinstance(r, Conversion) for r in results), results
    assert {r.pk for r in results} == {Conversion.objects.get().pk}
    assert charges() == 1
