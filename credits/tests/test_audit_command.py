from __future__ import annotations

import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from credits.models import CreditAccount, CreditEntry, EntryKind
from credits.services import conversion_charge, conversion_refund, credits_grant, credits_grant_signup
from ebookvoice.paths import BASE_DIR


@pytest.fixture
def busy_ledger(owner, stranger, staff):
    credits_grant_signup(user=owner)
    credits_grant(user=stranger, hundredths=500, actor=staff, reason="x")
    conversion = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=conversion, characters=120_000)
    conversion_refund(conversion_uuid=conversion, rendered_characters=50_000)


@pytest.mark.django_db
def test_a_clean_ledger_passes_with_a_one_line_summary(busy_ledger, capsys):
    call_command("audit_credits")
    assert capsys.readouterr().out == "Audited 2 accounts and 4 entries: 0 mismatches.\n"


@pytest.mark.django_db
def test_a_tampered_balance_fails_the_audit_and_names_the_user(busy_ledger, owner, capsys):
    CreditAccount.objects.filter(user=owner).update(balance=50)
    with pytest.raises(CommandError, match=r"Audited 2 accounts and 4 entries: 1 mismatch\."):
        call_command("audit_credits")
    assert capsys.readouterr().out == (
        f"MISMATCH owner@example.com (user {owner.pk}): balance is 0.50 but entries sum to 2.00\n"
    )


@pytest.mark.django_db
def test_an_entry_whose_balance_after_is_wrong_is_reported_by_id(owner, capsys):
    first = CreditEntry.objects.create(
        user=owner, kind=EntryKind.PURCHASE, amount=2, balance_after=2, idempotency_key="a"
    )
    second = CreditEntry.objects.create(
        user=owner, kind=EntryKind.PURCHASE, amount=2, balance_after=3, idempotency_key="b"
    )
    CreditAccount.objects.create(user=owner, balance=4)
    with pytest.raises(CommandError, match="1 mismatch"):
        call_command("audit_credits")
    out = capsys.readouterr().out
    assert f"entry {second.pk} has balance_after 0.03, running sum is 0.04" in out
    assert f"entry {first.pk}" not in out


@pytest.mark.django_db
def test_a_balance_without_entries_and_entries_without_a_balance_are_mismatches(owner, stranger, capsys):
    CreditAccount.objects.create(user=owner, balance=7)
    CreditEntry.objects.create(
        user=stranger, kind=EntryKind.PURCHASE, amount=1, balance_after=1, idempotency_key="orphan"
    )
    with pytest.raises(CommandError, match="2 mismatches"):
        call_command("audit_credits")
    out = capsys.readouterr().out
    assert f"owner@example.com (user {owner.pk}): balance is 0.07 but there are no entries" in out
    assert (
        f"stranger@example.com (user {stranger.pk}): entries sum to 0.01 but there is no balance row" in out
    )


@pytest.mark.django_db
def test_entries_of_deleted_users_are_history_not_mismatches(busy_ledger, owner, capsys):
    owner.delete()
    call_command("audit_credits")
    assert capsys.readouterr().out == "Audited 1 account and 1 entry: 0 mismatches.\n"


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_a_mismatch(owner, staff):
    credits_grant(user=owner, hundredths=100, actor=staff, reason="x")
    CreditAccount.objects.filter(user=owner).update(balance=0)
    # The test database, committed to (transaction=True), seen from another process.
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{connection.settings_dict['NAME']}").geturl()
    done = subprocess.run(
        [sys.executable, "manage.py", "audit_credits"],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "ebookvoice.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "owner@example.com" in done.stdout
    assert "1 mismatch" in done.stderr
