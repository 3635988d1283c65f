"""Races against real PostgreSQL: threads with their own connections, committed data."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import User
from credits.errors import InsufficientCredits
from credits.models import CreditAccount, CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import conversion_charge, conversion_refund, credits_grant, credits_grant_signup
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_submissions_racing_for_the_last_credit_charge_exactly_one(owner, staff):
    credits_grant(user=owner, hundredths=100, actor=staff, reason="the last credit")
    results = run_at_once(
        [lambda: conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=50_000)] * 20
    )
    charged = [r for r in results if isinstance(r, CreditEntry)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(charged), len(refused)) == (1, 19)
    assert all(str(r) == "This conversion needs 1.00 credit and you have 0.00." for r in refused)
    assert credit_balance_get(user=owner) == 0
    assert not ledger_audit().mismatches


def test_the_same_conversion_charged_from_ten_threads_makes_one_entry(owner, staff):
    credits_grant(user=owner, hundredths=500, actor=staff, reason="float")
    conversion = uuid.uuid4()
    results = run_at_once(
        [lambda: conversion_charge(user=owner, conversion_uuid=conversion, characters=60_000)] * 10
    )
    assert {r.pk for r in results} == {CreditEntry.objects.get(kind=EntryKind.CHARGE).pk}
    assert credit_balance_get(user=owner) == 380


def test_a_cancel_and_a_failure_refunding_at_the_same_moment_refund_once(owner, staff):
    credits_grant(user=owner, hundredths=300, actor=staff, reason="float")
    conversion = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=conversion, characters=150_000)
    results = run_at_once(
        [
            lambda: conversion_refund(conversion_uuid=conversion, rendered_characters=0),
            lambda: conversion_refund(conversion_uuid=conversion, rendered_characters=100_000),
        ]
    )
    assert results[0] == results[1]
    assert CreditEntry.objects.filter(kind=EntryKind.REFUND).count() == 1
    assert credit_balance_get(user=owner) == results[0].balance_after


def test_two_accounts_claiming_the_grant_of_one_address_at_once_get_one_grant(db):
    # Two accounts cannot hold one address at once, but one can verify an
    # address another has just given up; the unique key settles the race.
    first = User.objects.create_user("first@example.com", "pw")
    second = User.objects.create_user("second@example.com", "pw")
    results = run_at_once(
        [
            lambda: credits_grant_signup(user=first, email="shared@example.com"),
            lambda: credits_grant_signup(user=second, email="shared@example.com"),
        ]
    )
    assert sorted(r is None for r in results) == [False, True]
    assert CreditEntry.objects.filter(kind=EntryKind.SIGNUP_GRANT).count() == 1
    assert sorted(CreditAccount.objects.values_list("balance", flat=True)) == [0, 300]
    assert not ledger_audit().mismatches


def test_a_new_users_first_writes_racing_create_one_balance_row(owner, staff):
    results = run_at_once(
        [lambda: credits_grant(user=owner, hundredths=100, actor=staff, reason="race")] * 10
    )
    assert all(isinstance(r, CreditEntry) for r in results)
    assert CreditAccount.objects.filter(user=owner).count() == 1
    assert credit_balance_get(user=owner) == 1000
    assert sorted(e.balance_after for e in CreditEntry.objects.all()) == list(range(100, 1001, 100))
