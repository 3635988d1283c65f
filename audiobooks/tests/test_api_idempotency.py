"""``Idempotency-Key`` on ``POST /api/v1/conversions``, after the IETF draft: replay, 409, 422, per user."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.idempotency import IN_FLIGHT_LEASE, idempotency_key_parse
from audiobooks.models import Book, Conversion, IdempotencyRecord
from credits.models import CreditAccount, CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tests.apiclient import Api, assert_error, person_with_app, ready_book
from tests.concurrency import run_at_once

KEY = "6f1c2a8e-3b7d-4c55-9e0a-1d2f3a4b5c6d"


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}


@pytest.fixture
def reader(tmp_path):
    user, api = person_with_app("reader@example.com")
    credits_grant_by_system(user=user, hundredths=300, reason="test")
    return user, api, ready_book(user, tmp_path)


def body_for(book: Book, **overrides: Any) -> dict[str, Any]:
    return {"book": str(book.uuid), "chapters": [0], "speed": 1.0, **overrides}


def submit(api: Api, book: Book, key: str = KEY, **overrides: Any):
    return api.post("/api/v1/conversions", body_for(book, **overrides), headers={"Idempotency-Key": key})


def charges() -> int:
    return CreditEntry.objects.filter(kind=EntryKind.CHARGE).count()


@pytest.mark.django_db
class TestReplay:
    def test_the_same_request_twice_makes_one_conversion_one_charge_and_the_same_response(self, reader):
        user, api, book = reader
        first = submit(api, book)
        second = submit(api, book)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first
        assert Conversion.objects.filter(owner=user).count() == 1
        assert charges() == 1
        assert credit_balance_get(user=user) == 300 - Conversion.objects.get(owner=user).charge_hundredths

    def test_a_replay_answers_as_the_first_time_even_after_the_conversion_moved_on(self, reader):
        _, api, book = reader
        first = submit(api, book).json()
        api.post(f"/api/v1/conversions/{first['id']}/cancel")
        replay = submit(api, book)
        assert replay.json() == first
        assert replay.json()["status"] == "queued"

    def test_the_body_is_compared_as_data_not_as_text(self, reader):
        _, api, book = reader
        first = submit(api, book)
        reordered = api.http.post(
            "/api/v1/conversions",
            '{ "speed": 1.0, "chapters": [0],   "book": "' + str(book.uuid) + '" }',
            content_type="application/json",
            headers={"X-Session-Token": api.token, "Idempotency-Key": KEY},
        )
        assert reordered.status_code == 201
        assert reordered.json() == first.json()

    def test_a_replay_uses_no_rate_limit_slot(self, reader, settings):
        _, api, book = reader
        settings.CREDITS_RATE_LIMITS = {"conversion": "1/h"}
        assert submit(api, book).status_code == 201
        assert submit(api, book).status_code == 201
        assert_error(submit(api, book, key="another"), 429, "rate_limited")

    def test_a_key_may_be_sent_as_a_structured_field_string(self, reader):
        _, api, book = reader
        first = submit(api, book, key=f'"{KEY}"')
        assert submit(api, book, key=KEY).json() == first.json()

    def test_without_a_key_each_request_is_a_new_conversion(self, reader):
        user, api, book = reader
        assert api.post("/api/v1/conversions", body_for(book)).status_code == 201
        assert api.post("/api/v1/conversions", body_for(book)).status_code == 201
        assert Conversion.objects.filter(owner=user).count() == 2


@pytest.mark.django_db
class TestRefusals:
    def test_the_same_key_with_a_different_body_is_refused_with_422(self, reader):
        user, api, book = reader
        assert submit(api, book).status_code == 201
        assert_error(submit(api, book, chapters=[1]), 422, "idempotency_key_reused", "different request")
        assert Conversion.objects.filter(owner=user).count() == 1
        assert charges() == 1

    def test_a_refused_first_attempt_keeps_no_record_so_the_key_works_once_credits_arrive(self, tmp_path):
        user, api = person_with_app("broke@example.com")
        book = ready_book(user, tmp_path)
        assert_error(submit(api, book), 402, "insufficient_credits")
        assert not IdempotencyRecord.objects.exists()
        credits_grant_by_system(user=user, hundredths=100, reason="bought")
        assert submit(api, book).status_code == 201

    def test_an_empty_key_is_refused(self, reader):
        _, api, book = reader
        assert_error(submit(api, book, key='""'), 400, "invalid_idempotency_key", "non-empty")

    def test_a_key_longer_than_255_characters_is_refused(self, reader):
        _, api, book = reader
        assert_error(submit(api, book, key="k" * 256), 400, "invalid_idempotency_key", "at most 255")

    def test_keys_belong_to_their_user(self, reader, tmp_path):
        _, api, book = reader
        other, other_api = person_with_app("other@example.com")
        credits_grant_by_system(user=other, hundredths=100, reason="test")
        other_book = ready_book(other, tmp_path / "other")
        mine = submit(api, book)
        theirs = submit(other_api, other_book)
        assert theirs.status_code == 201
        assert theirs.json()["id"] != mine.json()["id"]
        assert "Idempotent-Replayed" not in theirs
        # And their key is no way into my conversion: the same key with my book is their own request.
        assert_error(submit(other_api, book), 422, "idempotency_key_reused")

    def test_a_record_left_in_flight_by_a_dead_request_is_taken_over_and_charges_nothing_twice(self, reader):
        user, api, book = reader
        assert submit(api, book).status_code == 201
        # Arranged: the process died after the conversion was made, before the response was stored.
        IdempotencyRecord.objects.filter(user=user).update(
            state=IdempotencyRecord.State.IN_FLIGHT,
            response_status=None,
            response_body=None,
            locked_at=timezone.now() - IN_FLIGHT_LEASE - timedelta(seconds=1),
        )
        again = submit(api, book)
        assert again.status_code == 201
        assert Conversion.objects.filter(owner=user).count() == 1
        assert charges() == 1
        assert IdempotencyRecord.objects.get(user=user).state == IdempotencyRecord.State.COMPLETED


def test_a_structured_field_string_is_unquoted():
    assert idempotency_key_parse('"a \\"quoted\\" key"') == 'a "quoted" key'
    assert idempotency_key_parse(None) is None


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_while_the_first_is_still_being_served_gets_409_and_later_the_same_answer(reader):
    user, api, book = reader
    answers: dict[str, Any] = {}

    def first() -> None:
        try:
            answers["first"] = submit(Api(api.token), book)
        finally:
            connection.close()

    def duplicate() -> None:
        try:
            answers["duplicate"] = submit(Api(api.token), book)
        finally:
            connection.close()

    with transaction.atomic():
        # Hold the balance row: the first request's charge waits here, in flight.
        CreditAccount.objects.select_for_update().get(user=user)
        serving = threading.Thread(target=first)
        serving.start()
        deadline = time.monotonic() + 30
        while not IdempotencyRecord.objects.filter(user=user, key=KEY).exists():
            assert time.monotonic() < deadline, "the first request never claimed its key"
            time.sleep(0.05)
        second = threading.Thread(target=duplicate)
        second.start()
        second.join(timeout=30)
    serving.join(timeout=60)

    assert_error(answers["duplicate"], 409, "idempotency_key_in_flight", "still being processed")
    assert answers["first"].status_code == 201
    replay = submit(api, book)
    assert replay.status_code == 201
    assert replay.json() == answers["first"].json()
    assert charges() == 1


@pytest.mark.django_db(transaction=True)
def test_five_identical_requests_at_once_make_one_conversion_and_one_charge(reader):
    user, api, book = reader
    answers = run_at_once([lambda: submit(Api(api.token), book)] * 5)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    bodies = {str(a.json()) for a in answers if a.status_code == 201}
    assert len(bodies) == 1
    assert Conversion.objects.filter(owner=user).count() == 1
    assert charges() == 1
    assert not ledger_audit().mismatches
