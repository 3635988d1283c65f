"""Stripe delivering one event many times at once, against real PostgreSQL: one grant, every answer 200."""

from __future__ import annotations

import functools

import pytest
from django.test import Client

from billing.models import Payment, StripeEvent, Subscription
from billing.tests import stripe_fakes as fake
from credits.models import CreditEntry, EntryKind, Plan
from credits.selectors import credit_balance_get, credit_plan_get, ledger_audit
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _billing_on(settings):
    fake.billing_on(settings)


def test_twenty_concurrent_deliveries_of_one_event_grant_exactly_once(owner):
    customer = fake.customer_for(owner)
    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=owner.pk, customer=customer, payment_intent=fake.new_id("pi")
    )
    event = fake.event("checkout.session.completed", session)

    def deliver() -> tuple[int, str]:
        response = fake.deliver(Client(), event)  # each thread: its own client and database connection
        return response.status_code, response.json().get("outcome", "")

    results = run_at_once([deliver] * 20)
    assert all(isinstance(result, tuple) for result in results), results
    assert {status for status, _ in results} == {200}
    outcomes = sorted(outcome for _, outcome in results)
    assert outcomes.count("already handled") == 19
    assert CreditEntry.objects.filter(user=owner, kind=EntryKind.PURCHASE).count() == 1
    assert credit_balance_get(user=owner) == 2000
    assert (Payment.objects.count(), StripeEvent.objects.count()) == (1, 1)
    assert not ledger_audit().mismatches


def test_twenty_concurrent_deliveries_of_one_refund_take_back_once(owner):
    customer = fake.customer_for(owner)
    intent = fake.new_id("pi")
    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=owner.pk, customer=customer, payment_intent=intent
    )
    assert fake.deliver(Client(), fake.event("checkout.session.completed", session)).status_code == 200
    # Twenty different events about the same refund (Stripe may send one per retry path).
    events = [
        fake.event(
            "charge.refunded",
            fake.charge(payment_intent=intent, customer=customer, amount_refunded=900, charge_id="ch_same"),
        )
        for _ in range(20)
    ]

    def deliver(event: dict) -> int:
        return fake.deliver(Client(), event).status_code

    results = run_at_once([functools.partial(deliver, event) for event in events])
    assert results == [200] * 20
    assert credit_balance_get(user=owner) == 1000
    assert CreditEntry.objects.filter(kind=EntryKind.PURCHASE_REVERSAL).count() == 1
    assert not ledger_audit().mismatches


def test_a_subscriptions_checkout_and_first_invoice_racing_make_one_premium_plan_and_one_grant(owner):
    customer, subscription_id, invoice_id = fake.customer_for(owner), fake.new_id("sub"), fake.new_id("in")
    session = fake.checkout_session(
        session_id=fake.new_id("cs"),
        user_id=owner.pk,
        customer=customer,
        mode="subscription",
        pack=None,
        amount_total=900,
        subscription=subscription_id,
    )
    invoice = fake.invoice(
        invoice_id=invoice_id, customer=customer, subscription=subscription_id, user_id=owner.pk
    )
    events = [fake.event("checkout.session.completed", session) for _ in range(5)]
    events += [fake.event("invoice.paid", invoice) for _ in range(5)]

    def deliver(event: dict) -> int:
        return fake.deliver(Client(), event).status_code

    assert run_at_once([functools.partial(deliver, event) for event in events]) == [200] * 10
    assert credit_balance_get(user=owner) == 1000
    assert credit_plan_get(user=owner) == Plan.PREMIUM
    assert Subscription.objects.get().stripe_subscription_id == subscription_id
    assert not ledger_audit().mismatches
