"""Twenty submissions through the API racing for a user's last credit (real PostgreSQL, one thread each)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.models import Conversion
from audiobooks.pipeline.parts import chapter_parts
from credits.models import CreditEntry, EntryKind
from credits.pricing import describe_credits, quote_hundredths
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tests.apiclient import Api, person_with_app, ready_book
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_submissions_for_the_last_credit_make_one_conversion_and_nineteen_refusals(settings, tmp_path):
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}
    user, api = person_with_app("reader@example.com")
    book = ready_book(user, tmp_path)
    # Exactly what the chapter costs, as submission counts it: its text cut into Parts.
    parts = chapter_parts(text=book.chapters.get(index=0).text)
    price = quote_hundredths(sum(len(part.text) for part in parts))
    credits_grant_by_system(user=user, hundredths=price, reason="the last credit")

    def submit() -> Any:
        body = {"book": str(book.uuid), "chapters": [0]}
        # Distinct keys: twenty different requests, not one retried.
        return Api(api.token).post(
            "/api/v1/conversions", body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )

    answers = run_at_once([submit] * 20)

    assert sorted(a.status_code for a in answers) == [201] + [402] * 19
    refusals = [a.json()["error"] for a in answers if a.status_code == 402]
    assert {(e["code"], e["message"]) for e in refusals} == {
        ("insufficient_credits", f"This conversion needs {describe_credits(price)} and you have 0.00.")
    }
    assert Conversion.objects.filter(owner=user).count() == 1
    assert CreditEntry.objects.filter(kind=EntryKind.CHARGE).count() == 1
    assert credit_balance_get(user=user) == 0
    assert not CreditEntry.objects.filter(balance_after__lt=0).exists()
    assert not ledger_audit().mismatches
