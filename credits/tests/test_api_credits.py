"""The credits API: one's balance and plan, and one's ledger in pages, newest first."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from credits.services import credits_grant, credits_grant_by_system
from tests.apiclient import assert_error, person_with_app

pytestmark = pytest.mark.django_db


def test_the_balance_plan_and_price_are_shown(settings):
    settings.CREDITS_CHARS_PER_CREDIT = 40_000
    user, api = person_with_app("reader@example.com")
    credits_grant_by_system(user=user, hundredths=250, reason="welcome")
    assert api.get("/api/v1/credits").json() == {
        "balance": "2.50",
        "balance_hundredths": 250,
        # 2.5 credits buy 100,000 characters here; the default voice says 17.2 a second.
        "balance_audio_seconds": 5_813,
        "plan": "free",
        "chars_per_credit": 40_000,
        "storage_quota_bytes": 2_000_000_000,
    }


def test_the_ledger_comes_newest_first_in_pages_without_naming_the_staff_member(staff):
    user, api = person_with_app("reader@example.com")
    for n in range(1, 4):
        credits_grant(user=user, hundredths=n * 100, actor=staff, reason=f"grant {n}")
    first = api.get("/api/v1/credits/entries", {"page_size": 2}).json()
    assert first["count"] == 3
    assert [(e["amount"], e["balance_after"], e["reason"]) for e in first["results"]] == [
        ("3.00", "6.00", "grant 3"),
        ("2.00", "3.00", "grant 2"),
    ]
    assert [(e["amount_hundredths"], e["balance_after_hundredths"]) for e in first["results"]] == [
        (300, 600),
        (200, 300),
    ]
    assert set(first["results"][0]) == {
        "kind",
        "amount",
        "amount_hundredths",
        "balance_after",
        "balance_after_hundredths",
        "reason",
        "conversion",
        "created_at",
    }
    assert "staff@example.com" not in str(first)
    second = api.get(first["next"].removeprefix("http://testserver")).json()
    assert [e["amount"] for e in second["results"]] == ["1.00"]


def test_a_ledger_page_past_the_end_is_not_found(db):
    _, api = person_with_app("reader@example.com")
    assert_error(api.get("/api/v1/credits/entries", {"page": 2}), 404, "not_found")


def test_the_credits_need_a_session(db):
    assert_error(Client().get("/api/v1/credits"), 401, "not_authenticated")
