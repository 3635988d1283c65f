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
    credits_grant_by_system(user=user, amount=4, reason="welcome")
    assert api.get("/api/v1/credits").json() == {
        "balance": 4,
        "plan": "free",
        "chars_per_credit": 40_000,
        "storage_quota_bytes": 2_000_000_000,
    }


def test_the_ledger_comes_newest_first_in_pages_without_naming_the_staff_member(staff):
    user, api = person_with_app("reader@example.com")
    for n in range(1, 4):
        credits_grant(user=user, amount=n, actor=staff, reason=f"grant {n}")
    first = api.get("/api/v1/credits/entries", {"page_size": 2}).json()
    assert first["count"] == 3
    assert [(e["amount"], e["balance_after"], e["reason"]) for e in first["results"]] == [
        (3, 6, "grant 3"),
        (2, 3, "grant 2"),
    ]
    assert set(first["results"][0]) == {
        "kind",
        "amount",
        "balance_after",
        "reason",
        "conversion",
        "created_at",
    }
    assert "staff@example.com" not in str(first)
    second = api.get(first["next"].removeprefix("http://testserver")).json()
    assert [e["amount"] for e in second["results"]] == [1]


def test_a_ledger_page_past_the_end_is_not_found(db):
    _, api = person_with_app("reader@example.com")
    assert_error(api.get("/api/v1/credits/entries", {"page": 2}), 404, "not_found")


def test_the_credits_need_a_session(db):
    assert_error(Client().get("/api/v1/credits"), 401, "not_authenticated")
