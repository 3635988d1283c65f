"""Migrations credits 0003 and audiobooks 0009: whole credits become hundredths, exactly, with no drift.

The ledger is written as it stood before them (whole credits, through the
historical models), audited, migrated forward, and audited again; then taken
back and forward once more. Real PostgreSQL, with the append-only trigger the
migration has to step around and must leave in place.
"""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User
from credits.models import CreditAccount, CreditEntry
from credits.selectors import ledger_audit

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("credits", "0002_entry_append_only_trigger"), ("audiobooks", "0008_part_from_cache")]
AFTER = [("credits", "0003_amounts_in_hundredths"), ("audiobooks", "0009_conversion_charge_hundredths")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest() -> None:
    """Every app back at its newest migration, so that no later test meets a schema from the past."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def account_balance(user_id: int) -> int:
    # Only the balance: at 0003 the table lacks the columns later migrations add (0004's shortfall).
    return CreditAccount.objects.filter(user_id=user_id).values_list("balance", flat=True).get()


def audit_output() -> str:
    out = StringIO()
    call_command("audit_credits", stdout=out)
    return out.getvalue()


@pytest.fixture
def whole_credit_ledger():
    """A ledger and a conversion as they were before the migrations: 3 granted, 2 charged, 1 refunded."""
    apps = migrate(BEFORE)
    Account = apps.get_model("credits", "CreditAccount")
    Entry = apps.get_model("credits", "CreditEntry")
    Book = apps.get_model("audiobooks", "Book")
    Conversion = apps.get_model("audiobooks", "Conversion")
    user = User.objects.create_user("reader@example.com", "pw")  # accounts is not migrated here
    conversion_uuid = uuid.uuid4()
    rows = [
        ("signup_grant", 3, 3, {}),
        ("charge", -2, 1, {"characters": 60_000}),
        ("refund", 1, 2, {"characters": 40_000}),
    ]
    for n, (kind, amount, balance_after, basis) in enumerate(rows):
        pricing = {"conversion_uuid": conversion_uuid, "chars_per_credit": 50_000, **basis} if basis else {}
        Entry.objects.create(
            user_id=user.pk,
            kind=kind,
            amount=amount,
            balance_after=balance_after,
            idempotency_key=f"k{n}",
            **pricing,
        )
    Account.objects.create(user_id=user.pk, balance=2)
    book = Book.objects.create(owner_id=user.pk, original_key="k", original_size=1, status="ready")
    Conversion.objects.create(
        uuid=conversion_uuid, owner_id=user.pk, book=book, voice_key="piper:en_US-joe-medium", speed=1.0,
        characters=60_000, credits_charged=2,
    )  # fmt: skip
    yield user.pk, conversion_uuid
    migrate_to_latest()


def test_the_ledger_is_multiplied_by_a_hundred_with_zero_drift_before_and_after(whole_credit_ledger):
    user_id, conversion_uuid = whole_credit_ledger
    assert not ledger_audit().mismatches
    assert audit_output() == "Audited 1 account and 3 entries: 0 mismatches.\n"

    migrate(AFTER)

    assert audit_output() == "Audited 1 account and 3 entries: 0 mismatches.\n"
    entries = CreditEntry.objects.filter(user_id=user_id).order_by("id")
    assert [(e.amount, e.balance_after) for e in entries] == [(300, 300), (-200, 100), (100, 200)]
    assert account_balance(user_id) == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT charge_hundredths FROM audiobooks_conversion WHERE uuid = %s", [conversion_uuid]
        )
        assert cursor.fetchone() == (200,)

    # The append-only trigger is back on.
    with pytest.raises(IntegrityError, match="correction"), transaction.atomic():
        CreditEntry.objects.filter(user_id=user_id).update(amount=1)


def test_back_and_forward_again_changes_nothing(whole_credit_ledger):
    user_id, _ = whole_credit_ledger
    migrate(AFTER)
    migrate(BEFORE)
    entries = CreditEntry.objects.filter(user_id=user_id).order_by("id")
    assert [(e.amount, e.balance_after) for e in entries] == [(3, 3), (-2, 1), (1, 2)]
    assert not ledger_audit().mismatches
    migrate(AFTER)
    assert [(e.amount, e.balance_after) for e in entries.all()] == [(300, 300), (-200, 100), (100, 200)]
    assert not ledger_audit().mismatches


def test_going_back_refuses_a_ledger_that_holds_fractions_of_a_credit(whole_credit_ledger):
    user_id, _ = whole_credit_ledger
    migrate(AFTER)
    CreditEntry.objects.create(
        user_id=user_id, kind="charge", amount=-7, balance_after=193, idempotency_key="short-job",
        conversion_uuid=uuid.uuid4(), characters=3_201, chars_per_credit=50_000,
    )  # fmt: skip
    CreditAccount.objects.filter(user_id=user_id).update(balance=193)
    with pytest.raises(RuntimeError, match="fractions of a credit"):
        migrate([("credits", "0002_entry_append_only_trigger")])
    migrate(AFTER)  # whatever the refused attempt did was rolled back
    assert account_balance(user_id) == 193
    assert not ledger_audit().mismatches
