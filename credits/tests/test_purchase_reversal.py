"""Taking back a refunded or disputed purchase: what is left is deducted, what was spent is owed."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction

from credits.errors import ShortfallOwed
from credits.models import CreditAccount, CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import (
    conversion_charge,
    credits_grant,
    credits_purchase,
    credits_purchase_reverse,
    credits_shortfall_waive,
)

pytestmark = pytest.mark.django_db


def owed(user) -> int:
    return CreditAccount.objects.get(user=user).shortfall


def test_a_reversal_of_unspent_credits_takes_them_all_and_owes_nothing(owner):
    credits_purchase(user=owner, hundredths=500, payment_reference="pi_1")
    entry = credits_purchase_reverse(user=owner, hundredths=500, reference="ch_1", reason="Refund")
    assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.PURCHASE_REVERSAL, -500, 0)
    assert owed(owner) == 0


def test_a_reversal_of_spent_credits_deducts_the_balance_and_owes_the_rest_once(owner):
    credits_purchase(user=owner, hundredths=500, payment_reference="pi_1")
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=200_000)  # 4.00
    first = credits_purchase_reverse(user=owner, hundredths=500, reference="ch_1", reason="Refund")
    again = credits_purchase_reverse(user=owner, hundredths=500, reference="ch_1", reason="Refund")
    assert first.pk == again.pk
    assert (first.amount, credit_balance_get(user=owner), owed(owner)) == (-100, 0, 400)


def test_everything_spent_records_a_zero_reversal_and_the_whole_shortfall(owner):
    credits_purchase(user=owner, hundredths=100, payment_reference="pi_1")
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=50_000)
    entry = credits_purchase_reverse(user=owner, hundredths=100, reference="dp_1", reason="Dispute")
    assert (entry.amount, owed(owner)) == (0, 100)
    assert not ledger_audit().mismatches


def test_a_shortfall_blocks_new_conversions_until_a_purchase_pays_it(owner):
    credits_purchase(user=owner, hundredths=100, payment_reference="pi_1")
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=50_000)
    credits_purchase_reverse(user=owner, hundredths=100, reference="ch_1", reason="Refund")
    with pytest.raises(ShortfallOwed) as refused:
        conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=10)
    assert refused.value.http_status == 402
    credits_purchase(user=owner, hundredths=250, payment_reference="pi_2")
    assert (credit_balance_get(user=owner), owed(owner)) == (150, 0)
    settle = CreditEntry.objects.get(idempotency_key="settle:purchase:pi_2")
    assert (settle.kind, settle.amount) == (EntryKind.PURCHASE_REVERSAL, -100)
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=10)
    assert not ledger_audit().mismatches


def test_a_purchase_smaller_than_the_shortfall_pays_part_of_it(owner):
    CreditAccount.objects.create(user=owner, shortfall=300)
    credits_purchase(user=owner, hundredths=100, payment_reference="pi_1")
    assert (credit_balance_get(user=owner), owed(owner)) == (0, 200)


def test_a_staff_grant_pays_the_shortfall_and_staff_can_waive_it(owner, staff):
    CreditAccount.objects.create(user=owner, shortfall=300)
    credits_grant(user=owner, hundredths=100, actor=staff, reason="goodwill")
    assert owed(owner) == 200
    with pytest.raises(PermissionDenied):
        credits_shortfall_waive(user=owner, actor=owner, reason="me")
    assert credits_shortfall_waive(user=owner, actor=staff, reason="dispute won") == 200
    assert owed(owner) == 0


def test_the_database_refuses_a_reversal_that_adds_credits(owner):
    credits_purchase(user=owner, hundredths=100, payment_reference="pi_1")
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(
            user=owner, kind=EntryKind.PURCHASE_REVERSAL, amount=5, balance_after=105, idempotency_key="x"
        )


def test_the_database_refuses_a_negative_shortfall(owner):
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.create(user=owner, shortfall=-1)
    assert connection.vendor == "postgresql"
