from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.test import override_settings

from accounts.models import User
from credits.errors import ChargeNotFound, InsufficientCredits, LedgerIsAppendOnly, NothingToConvert
from credits.models import CreditAccount, CreditEntry, EntryKind
from credits.selectors import credit_balance_get, credit_entries_list
from credits.services import (
    conversion_charge,
    conversion_refund,
    credits_adjust,
    credits_grant,
    credits_grant_signup,
    credits_purchase,
)

pytestmark = pytest.mark.django_db


def give(user: User, amount: int, staff: User) -> None:
    credits_grant(user=user, hundredths=amount * 100, actor=staff, reason="test float")


# --- Signup grant -------------------------------------------------------------------


def test_a_verified_new_user_gets_three_credits(owner):
    entry = credits_grant_signup(user=owner)
    assert entry is not None
    assert (entry.kind, entry.amount, entry.balance_after, entry.actor) == (
        EntryKind.SIGNUP_GRANT,
        300,
        300,
        None,
    )
    assert credit_balance_get(user=owner) == 300


def test_the_signup_grant_is_given_once_however_often_it_is_asked_for(owner):
    first = credits_grant_signup(user=owner)
    again = credits_grant_signup(user=owner)
    assert first == again
    assert credit_balance_get(user=owner) == 300
    assert CreditEntry.objects.count() == 1


def test_deleting_an_account_and_signing_up_again_with_the_same_email_gives_no_second_grant(owner):
    credits_grant_signup(user=owner)
    owner.delete()
    reborn = User.objects.create_user("Owner@Example.com", "pw")
    assert credits_grant_signup(user=reborn) is None
    assert credit_balance_get(user=reborn) == 0


def test_plus_tags_and_gmail_dots_do_not_earn_extra_signup_grants(db):
    first = User.objects.create_user("reader.name@gmail.com", "pw")
    second = User.objects.create_user("readername+again@googlemail.com", "pw")
    assert credits_grant_signup(user=first) is not None
    assert credits_grant_signup(user=second) is None


def test_the_signup_key_does_not_keep_the_address_in_the_clear(owner):
    entry = credits_grant_signup(user=owner)
    assert entry is not None
    assert "owner" not in entry.idempotency_key
    assert entry.idempotency_key.startswith("signup:")


def test_the_signup_grant_size_is_a_setting(owner):
    with override_settings(CREDITS_SIGNUP_GRANT=5):
        credits_grant_signup(user=owner)
    assert credit_balance_get(user=owner) == 500


# --- Staff grants, purchases, adjustments ------------------------------------------------


def test_staff_can_grant_credits_and_the_entry_names_them(owner, staff):
    entry = credits_grant(user=owner, hundredths=1000, actor=staff, reason="Apology for an outage")
    assert (entry.kind, entry.amount, entry.actor, entry.reason) == (
        EntryKind.STAFF_GRANT,
        1000,
        staff,
        "Apology for an outage",
    )
    assert credit_balance_get(user=owner) == 1000


def test_a_stranger_cannot_grant_credits(owner, stranger):
    with pytest.raises(PermissionDenied):
        credits_grant(user=owner, hundredths=1000, actor=stranger, reason="Free money")
    assert not CreditEntry.objects.exists()


def test_a_grant_needs_a_positive_amount_and_a_reason(owner, staff):
    with pytest.raises(ValueError, match="positive"):
        credits_grant(user=owner, hundredths=0, actor=staff, reason="x")
    with pytest.raises(ValueError, match="reason"):
        credits_grant(user=owner, hundredths=100, actor=staff, reason="  ")


def test_a_grant_replayed_with_its_key_moves_nothing(owner, staff):
    first = credits_grant(user=owner, hundredths=400, actor=staff, reason="x", idempotency_key="form:1")
    again = credits_grant(user=owner, hundredths=400, actor=staff, reason="x", idempotency_key="form:1")
    assert first == again
    assert credit_balance_get(user=owner) == 400


def test_a_purchase_is_credited_once_per_payment_reference(owner):
    credits_purchase(user=owner, hundredths=2000, payment_reference="pi_123")
    credits_purchase(user=owner, hundredths=2000, payment_reference="pi_123")
    assert credit_balance_get(user=owner) == 2000
    assert CreditEntry.objects.get().kind == EntryKind.PURCHASE


def test_an_adjustment_can_take_credits_back_but_not_below_zero(owner, staff):
    give(owner, 5, staff)
    credits_adjust(user=owner, hundredths=-200, actor=staff, reason="Duplicate grant")
    assert credit_balance_get(user=owner) == 300
    with pytest.raises(InsufficientCredits, match=r"removes 4\.00 credits"):
        credits_adjust(user=owner, hundredths=-400, actor=staff, reason="Too much")
    assert credit_balance_get(user=owner) == 300


# --- Charges -------------------------------------------------------------------------


def test_a_conversion_is_charged_its_quote_and_the_entry_records_the_basis(owner, staff):
    give(owner, 5, staff)
    conversion = uuid.uuid4()
    entry = conversion_charge(user=owner, conversion_uuid=conversion, characters=120_000)
    assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.CHARGE, -240, 260)
    assert (entry.conversion_uuid, entry.characters, entry.chars_per_credit) == (conversion, 120_000, 50_000)
    assert entry.idempotency_key == f"charge:{conversion}"
    assert credit_balance_get(user=owner) == 260


def test_a_short_job_costs_hundredths_not_a_whole_credit(owner, staff):
    give(owner, 3, staff)
    entry = conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=3_201)
    assert entry.amount == -7  # 0.07 credits
    assert credit_balance_get(user=owner) == 293


def test_charging_the_same_conversion_twice_charges_once(owner, staff):
    give(owner, 5, staff)
    conversion = uuid.uuid4()
    first = conversion_charge(user=owner, conversion_uuid=conversion, characters=60_000)
    again = conversion_charge(user=owner, conversion_uuid=conversion, characters=60_000)
    assert first == again
    assert credit_balance_get(user=owner) == 380


def test_a_replayed_charge_returns_the_first_one_even_after_the_balance_is_spent(owner, staff):
    give(owner, 1, staff)
    conversion = uuid.uuid4()
    first = conversion_charge(user=owner, conversion_uuid=conversion, characters=10)
    assert conversion_charge(user=owner, conversion_uuid=conversion, characters=10) == first


def test_a_short_balance_refuses_the_conversion_with_a_clear_message_and_charges_nothing(owner, staff):
    give(owner, 1, staff)
    with pytest.raises(InsufficientCredits) as refused:
        conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=150_000)
    assert str(refused.value) == "This conversion needs 3.00 credits and you have 1.00."
    assert (refused.value.needed, refused.value.available) == (300, 100)
    assert credit_balance_get(user=owner) == 100
    assert not CreditEntry.objects.filter(kind=EntryKind.CHARGE).exists()


def test_a_user_who_never_had_credits_is_refused_too(owner):
    with pytest.raises(InsufficientCredits, match=r"needs 0\.01 credits and you have 0\.00"):
        conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=1)


def test_a_conversion_without_text_is_refused_before_any_charge(owner, staff):
    give(owner, 1, staff)
    with pytest.raises(NothingToConvert):
        conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=0)
    assert credit_balance_get(user=owner) == 100


def test_a_failed_submission_rolls_back_its_charge_with_it(owner, staff):
    give(owner, 2, staff)

    def submit() -> None:
        with transaction.atomic():
            conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=10)
            raise RuntimeError("creating the Conversion failed")

    with pytest.raises(RuntimeError):
        submit()
    assert credit_balance_get(user=owner) == 200


# --- Refunds -------------------------------------------------------------------------


def test_a_refund_gives_back_every_hundredth_not_fully_rendered(owner, staff):
    give(owner, 3, staff)
    conversion = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=conversion, characters=150_000)
    refund = conversion_refund(conversion_uuid=conversion, rendered_characters=60_000)
    # 300 charged; 60,000 rendered keeps 120 hundredths, so 180 come back.
    assert (refund.kind, refund.amount, refund.balance_after) == (EntryKind.REFUND, 180, 180)
    assert (refund.user, refund.idempotency_key) == (owner, f"refund:{conversion}")


def test_cancel_then_failure_refunds_once(owner, staff):
    give(owner, 3, staff)
    conversion = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=conversion, characters=150_000)
    on_cancel = conversion_refund(conversion_uuid=conversion, rendered_characters=0)
    on_failure = conversion_refund(conversion_uuid=conversion, rendered_characters=100_000)
    assert on_failure == on_cancel
    assert credit_balance_get(user=owner) == 300
    assert CreditEntry.objects.filter(kind=EntryKind.REFUND).count() == 1


def test_a_fully_rendered_conversion_records_a_zero_refund_that_settles_it(owner, staff):
    give(owner, 1, staff)
    conversion = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=conversion, characters=50_000)
    settled = conversion_refund(conversion_uuid=conversion, rendered_characters=50_000)
    assert (settled.amount, settled.balance_after) == (0, 0)
    assert conversion_refund(conversion_uuid=conversion, rendered_characters=0) == settled


def test_a_refund_uses_the_rate_of_its_charge_even_after_the_setting_changed(owner, staff):
    give(owner, 3, staff)
    conversion = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=conversion, characters=150_000)
    with override_settings(CREDITS_CHARS_PER_CREDIT=10_000):
        refund = conversion_refund(conversion_uuid=conversion, rendered_characters=50_000)
    assert refund.amount == 200  # 300 − 50,000 ÷ 500 at the charge's rate, not 300 − 500


def test_refunding_a_conversion_that_was_never_charged_is_a_bug_not_free_credits(owner):
    with pytest.raises(ChargeNotFound):
        conversion_refund(conversion_uuid=uuid.uuid4(), rendered_characters=0)


# --- The ledger is append-only --------------------------------------------------------


def test_an_entry_cannot_be_changed_or_deleted_through_the_model(owner, staff):
    entry = credits_grant(user=owner, hundredths=100, actor=staff, reason="x")
    entry.amount = 101
    with pytest.raises(LedgerIsAppendOnly):
        entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        entry.delete()


def test_the_database_refuses_to_change_or_delete_an_entry(owner, staff):
    entry = credits_grant(user=owner, hundredths=100, actor=staff, reason="x")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        CreditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(IntegrityError, match="correction"), transaction.atomic():
        CreditEntry.objects.filter(pk=entry.pk).update(amount=101)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.filter(pk=entry.pk).update(user=staff)


def test_the_database_refuses_a_negative_balance_even_without_the_services(owner, staff):
    give(owner, 1, staff)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(user=owner).update(balance=-1)


def test_deleting_a_user_keeps_their_entries_without_them(owner, staff):
    entry = credits_grant(user=owner, hundredths=200, actor=staff, reason="x")
    staff.delete()
    owner.delete()
    entry.refresh_from_db()
    assert (entry.user, entry.actor, entry.amount) == (None, None, 200)
    assert not CreditAccount.objects.exists()


# --- Reads ---------------------------------------------------------------------------------


def test_a_user_sees_only_their_own_entries(owner, stranger, staff):
    give(owner, 1, staff)
    give(stranger, 2, staff)
    assert [e.amount for e in credit_entries_list(user=owner)] == [100]


def test_entries_list_newest_first(owner, staff):
    give(owner, 1, staff)
    give(owner, 2, staff)
    assert [e.balance_after for e in credit_entries_list(user=owner)] == [300, 100]
