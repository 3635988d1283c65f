"""``manage.py grant_credits EMAIL AMOUNT --reason TEXT [--actor STAFF_EMAIL]``."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from credits.models import CreditEntry, EntryKind
from credits.selectors import credit_balance_get
from credits.services import credits_grant, credits_grant_by_system

pytestmark = pytest.mark.django_db


def grant(*args: str) -> str:
    out = StringIO()
    call_command("grant_credits", *args, stdout=out)
    return out.getvalue()


def test_a_grant_by_the_system_credits_the_user_and_prints_one_line(owner):
    output = grant("owner@example.com", "5", "--reason", "Sorry about the outage")
    entry = CreditEntry.objects.get()
    assert (entry.user, entry.kind, entry.amount, entry.actor) == (owner, EntryKind.STAFF_GRANT, 500, None)
    assert entry.reason == "Sorry about the outage"
    assert credit_balance_get(user=owner) == 500
    assert output == (
        f"Granted 5.00 credits to owner@example.com by the system (entry {entry.pk}, "
        "reason 'Sorry about the outage'); balance now 5.00 credits (about 4 h 2 min of audio).\n"
    )


def test_the_email_is_matched_in_any_case_and_the_balance_adds_up(owner):
    grant("owner@example.com", "1", "--reason", "first")
    output = grant("OWNER@Example.com", "2", "--reason", "second")
    assert "Granted 2.00 credits to owner@example.com" in output
    assert output.endswith("balance now 3.00 credits (about 2 h 25 min of audio).\n")
    assert credit_balance_get(user=owner) == 300


def test_a_named_staff_actor_is_recorded_on_the_entry(owner, staff):
    output = grant("owner@example.com", "1", "--reason", "Beta tester", "--actor", "staff@example.com")
    assert CreditEntry.objects.get().actor == staff
    assert "Granted 1.00 credit to owner@example.com by staff@example.com" in output


def test_an_actor_who_is_not_staff_is_refused_and_nothing_moves(owner, stranger):
    with pytest.raises(
        CommandError, match=re.escape("stranger@example.com cannot grant credits: Only staff")
    ):
        grant("owner@example.com", "1", "--reason", "x", "--actor", "stranger@example.com")
    assert not CreditEntry.objects.exists()


def test_an_unknown_email_is_refused_by_name(db):
    with pytest.raises(
        CommandError, match=re.escape("There is no user with the email address 'nobody@example.com'")
    ):
        grant("nobody@example.com", "1", "--reason", "x")


def test_an_unknown_actor_is_refused_by_name(owner):
    with pytest.raises(
        CommandError, match=re.escape("There is no staff member with the email address 'ghost@x.org'")
    ):
        grant("owner@example.com", "1", "--reason", "x", "--actor", "ghost@x.org")
    assert not CreditEntry.objects.exists()


@pytest.mark.parametrize("amount", ["0", "-3", "0.00"])
def test_a_non_positive_amount_is_refused(owner, amount):
    with pytest.raises(CommandError, match=f"AMOUNT must be a number of credits above 0, not {amount}"):
        grant("owner@example.com", amount, "--reason", "x")
    assert not CreditEntry.objects.exists()


def test_a_fraction_of_a_credit_is_granted_to_the_hundredth(owner):
    output = grant("owner@example.com", "2.5", "--reason", "half a book")
    assert CreditEntry.objects.get().amount == 250
    assert credit_balance_get(user=owner) == 250
    assert "Granted 2.50 credits to owner@example.com" in output


@pytest.mark.parametrize(("amount", "why"), [("2.505", "finer than a hundredth"), ("lots", "not a number")])
def test_an_amount_finer_than_a_hundredth_or_not_a_number_is_refused(owner, amount, why):
    with pytest.raises(
        CommandError, match=f"AMOUNT must be a number of credits above 0, to the hundredth: .*{why}"
    ):
        grant("owner@example.com", amount, "--reason", "x")
    assert not CreditEntry.objects.exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_empty_reason_is_refused(owner, reason):
    with pytest.raises(CommandError, match="--reason must say why"):
        grant("owner@example.com", "1", "--reason", reason)
    assert not CreditEntry.objects.exists()


def test_the_reason_is_required(owner):
    with pytest.raises(CommandError, match="--reason"):
        grant("owner@example.com", "1")


def test_web_callers_still_need_a_staff_actor(owner, stranger):
    # The system path is for the command only; credits_grant keeps its check.
    with pytest.raises(PermissionDenied):
        credits_grant(user=owner, hundredths=100, actor=stranger, reason="x")
    entry = credits_grant_by_system(user=owner, hundredths=100, reason="x", idempotency_key="grant:cli-test")
    assert (
        credits_grant_by_system(user=owner, hundredths=100, reason="x", idempotency_key="grant:cli-test")
        == entry
    )
    assert credit_balance_get(user=owner) == 100


def test_the_audit_agrees_after_a_grant(owner):
    grant("owner@example.com", "4", "--reason", "x")
    out = StringIO()
    call_command("audit_credits", stdout=out)
    assert "0 mismatches" in out.getvalue()
