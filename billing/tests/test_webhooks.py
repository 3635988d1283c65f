"""The Stripe webhook on real PostgreSQL: signed events in, credits and plans out, each exactly once."""

from __future__ import annotations

import io
import time
import uuid

import pytest
import responses
from django.core.management import call_command

from billing.models import Checkout, CheckoutKind, Payment, PaymentStatus, StripeEvent, Subscription
from billing.tests import stripe_fakes as fake
from credits.errors import ShortfallOwed
from credits.models import CreditAccount, CreditEntry, EntryKind, Plan
from credits.selectors import credit_balance_get, credit_plan_get, ledger_audit, storage_quota_get
from credits.services import conversion_charge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _billing_on(settings):
    fake.billing_on(settings)


def audit_is_clean() -> bool:
    """``manage.py audit_credits`` finds no drift (it raises CommandError on any)."""
    out = io.StringIO()
    call_command("audit_credits", stdout=out)
    return out.getvalue().endswith(": 0 mismatches.\n") and not ledger_audit().mismatches


def pack_paid(client, user, *, customer=None, pack="pack-20", hundredths=2000, amount=1800, checkout=True):
    """A pack bought through Checkout: the session the site made, then Stripe's completed event."""
    customer = customer or fake.customer_for(user)
    session_id, intent = fake.new_id("cs"), fake.new_id("pi")
    if checkout:
        Checkout.objects.create(
            user=user,
            kind=CheckoutKind.PACK,
            pack_key=pack,
            hundredths=hundredths,
            stripe_session_id=session_id,
            url=f"https://checkout.stripe.com/c/pay/{session_id}",
        )
    session = fake.checkout_session(
        session_id=session_id,
        user_id=user.pk,
        customer=customer,
        pack=pack,
        hundredths=hundredths,
        amount_total=amount,
        payment_intent=intent,
    )
    response = fake.deliver(client, fake.event("checkout.session.completed", session))
    assert response.status_code == 200, response.content
    return session, intent, customer


def test_a_paid_pack_adds_its_credits_once_with_pack_amount_and_currency_on_the_ledger_row(client, owner):
    session, intent, _ = pack_paid(client, owner)
    assert credit_balance_get(user=owner) == 2000
    entry = CreditEntry.objects.get(user=owner)
    assert (entry.kind, entry.amount, entry.idempotency_key) == (
        EntryKind.PURCHASE,
        2000,
        f"purchase:{intent}",
    )
    assert entry.reason == "20-credit pack · 18.00 EUR"
    payment = Payment.objects.get(user=owner)
    assert (payment.amount, payment.currency, payment.pack_key, payment.status) == (
        1800,
        "eur",
        "pack-20",
        "paid",
    )
    assert Checkout.objects.get(stripe_session_id=session["id"]).completed_at is not None
    assert audit_is_clean()


def test_a_replayed_event_does_nothing_the_second_time(client, owner):
    customer = fake.customer_for(owner)
    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=owner.pk, customer=customer, payment_intent=fake.new_id("pi")
    )
    event = fake.event("checkout.session.completed", session)
    first, second = fake.deliver(client, event), fake.deliver(client, event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["outcome"] == "already handled"
    assert credit_balance_get(user=owner) == 2000
    assert CreditEntry.objects.filter(user=owner).count() == 1
    assert StripeEvent.objects.filter(id=event["id"]).count() == 1


def test_two_events_about_one_payment_grant_once(client, owner):
    customer = fake.customer_for(owner)
    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=owner.pk, customer=customer, payment_intent=fake.new_id("pi")
    )
    fake.deliver(client, fake.event("checkout.session.completed", session))
    again = fake.deliver(client, fake.event("checkout.session.async_payment_succeeded", session))
    assert again.status_code == 200
    assert credit_balance_get(user=owner) == 2000
    assert Payment.objects.count() == 1


def test_a_session_still_waiting_for_its_payment_grants_nothing(client, owner):
    session = fake.checkout_session(
        session_id=fake.new_id("cs"),
        user_id=owner.pk,
        customer=fake.customer_for(owner),
        payment_intent=fake.new_id("pi"),
        payment_status="unpaid",
    )
    response = fake.deliver(client, fake.event("checkout.session.completed", session))
    assert response.json()["outcome"] == "waiting for the payment to clear"
    assert credit_balance_get(user=owner) == 0


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        ("", fake.WEBHOOK_SECRET),
        ("t=1,v1=0000", fake.WEBHOOK_SECRET),
        ("garbage", fake.WEBHOOK_SECRET),
        (None, "whsec_someone_elses_secret"),
    ],
    ids=["missing", "made-up", "unreadable", "another-secret"],
)
def test_a_missing_or_bad_signature_is_a_400_and_changes_nothing(client, owner, header, secret):
    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=owner.pk, customer=fake.new_id("cus"), payment_intent="pi_x"
    )
    response = fake.deliver(
        client, fake.event("checkout.session.completed", session), secret=secret, header=header
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"missing_signature", "bad_signature"}
    assert not StripeEvent.objects.exists()
    assert credit_balance_get(user=owner) == 0


def test_a_payload_changed_after_signing_is_refused(client, owner):
    import json

    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=owner.pk, customer=fake.new_id("cus"), payment_intent="pi_y"
    )
    payload = json.dumps(fake.event("checkout.session.completed", session))
    header = fake.signature(payload)
    tampered = payload.replace('"hundredths": "2000"', '"hundredths": "900000"')
    response = client.post(
        "/billing/stripe/webhook", tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    assert credit_balance_get(user=owner) == 0


def test_a_signature_older_than_five_minutes_is_refused_and_a_recent_one_accepted(client, owner):
    customer = fake.customer_for(owner)
    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=owner.pk, customer=customer, payment_intent=fake.new_id("pi")
    )
    event = fake.event("checkout.session.completed", session)
    stale = fake.deliver(client, event, timestamp=int(time.time()) - 301)
    assert stale.status_code == 400
    assert not StripeEvent.objects.exists()
    recent = fake.deliver(client, event, timestamp=int(time.time()) - 240)
    assert recent.status_code == 200
    assert credit_balance_get(user=owner) == 2000


def test_with_billing_off_the_endpoint_answers_409_and_records_nothing(client, owner, settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    session = fake.checkout_session(
        session_id="cs_off", user_id=owner.pk, customer="cus_off", payment_intent="pi"
    )
    response = fake.deliver(client, fake.event("checkout.session.completed", session))
    assert response.status_code == 409
    assert "Payments are not set up" in response.json()["error"]["message"]
    assert not StripeEvent.objects.exists()


def test_the_endpoint_takes_only_post(client):
    assert client.get("/billing/stripe/webhook").status_code == 405


# --- The premium plan ----------------------------------------------------------------------------------


def subscribe(client, user, *, first="checkout"):
    """Checkout in subscription mode, then its first invoice (or the other way round)."""
    customer = fake.customer_for(user)
    subscription_id, invoice_id = fake.new_id("sub"), fake.new_id("in")
    completed = fake.event(
        "checkout.session.completed",
        fake.checkout_session(
            session_id=fake.new_id("cs"),
            user_id=user.pk,
            customer=customer,
            mode="subscription",
            pack=None,
            amount_total=900,
            subscription=subscription_id,
        ),
    )
    paid = fake.event(
        "invoice.paid",
        fake.invoice(invoice_id=invoice_id, customer=customer, subscription=subscription_id, user_id=user.pk),
    )
    for event in (completed, paid) if first == "checkout" else (paid, completed):
        assert fake.deliver(client, event).status_code == 200
    return customer, subscription_id, invoice_id


def test_a_subscription_makes_the_reader_premium_and_each_paid_invoice_adds_the_allowance(client, owner):
    customer, subscription_id, _ = subscribe(client, owner)
    assert credit_plan_get(user=owner) == Plan.PREMIUM
    assert storage_quota_get(user=owner) == 50_000_000_000
    assert credit_balance_get(user=owner) == 1000
    renewal = fake.invoice(
        invoice_id=fake.new_id("in"),
        customer=customer,
        subscription=subscription_id,
        user_id=owner.pk,
        period_start=int(time.time()) + 30 * 86400,
        billing_reason="subscription_cycle",
    )
    assert fake.deliver(client, fake.event("invoice.paid", renewal)).status_code == 200
    # The allowance rolls over: the second month adds to what is left of the first.
    assert credit_balance_get(user=owner) == 2000
    entry = CreditEntry.objects.filter(user=owner).first()
    assert entry is not None
    assert entry.reason == "Premium monthly credits · 9.00 EUR"
    period_end = Subscription.objects.get().current_period_end
    assert period_end is not None
    assert period_end.timestamp() == pytest.approx(time.time() + 60 * 86400, abs=60)
    assert audit_is_clean()


def test_an_invoice_paid_before_its_checkout_completed_grants_once_and_still_makes_premium(client, owner):
    subscribe(client, owner, first="invoice")
    assert credit_plan_get(user=owner) == Plan.PREMIUM
    assert credit_balance_get(user=owner) == 1000
    assert Subscription.objects.get().status == "active"
    assert CreditEntry.objects.filter(user=owner).count() == 1


def test_cancelling_keeps_premium_until_period_end_then_the_free_limits_return(client, owner):
    customer, subscription_id, _ = subscribe(client, owner)
    cancelling = fake.subscription(
        subscription_id=subscription_id, customer=customer, user_id=owner.pk, cancel_at_period_end=True
    )
    fake.deliver(client, fake.event("customer.subscription.updated", cancelling))
    assert credit_plan_get(user=owner) == Plan.PREMIUM
    assert Subscription.objects.get().cancel_at_period_end
    ended = fake.subscription(
        subscription_id=subscription_id, customer=customer, user_id=owner.pk, status="canceled"
    )
    fake.deliver(client, fake.event("customer.subscription.deleted", ended))
    assert credit_plan_get(user=owner) == Plan.FREE
    assert storage_quota_get(user=owner) == 2_000_000_000
    # The credits already granted stay: they were paid for.
    assert credit_balance_get(user=owner) == 1000


def test_an_older_subscription_update_delivered_late_does_not_undo_the_end(client, owner):
    customer, subscription_id, _ = subscribe(client, owner)
    now = int(time.time())
    ended = fake.subscription(
        subscription_id=subscription_id, customer=customer, user_id=owner.pk, status="canceled"
    )
    active = fake.subscription(subscription_id=subscription_id, customer=customer, user_id=owner.pk)
    fake.deliver(client, fake.event("customer.subscription.deleted", ended, created=now + 10))
    fake.deliver(client, fake.event("customer.subscription.updated", active, created=now + 5))
    assert Subscription.objects.get().status == "canceled"
    assert credit_plan_get(user=owner) == Plan.FREE


# --- Refunds and disputes ------------------------------------------------------------------------------


def test_a_refund_after_partial_spending_takes_back_the_rest_and_records_the_shortfall(client, owner):
    _, intent, customer = pack_paid(client, owner)
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=750_000)  # 15.00 credits
    assert credit_balance_get(user=owner) == 500
    refunded = fake.charge(payment_intent=intent, customer=customer, amount_refunded=1800)
    response = fake.deliver(client, fake.event("charge.refunded", refunded))
    assert response.status_code == 200, response.content
    assert credit_balance_get(user=owner) == 0
    reversal = CreditEntry.objects.filter(user=owner, kind=EntryKind.PURCHASE_REVERSAL).get()
    assert reversal.amount == -500
    assert "15.00 credits already spent is owed" in reversal.reason
    assert CreditAccount.objects.get(user=owner).shortfall == 1500
    payment = Payment.objects.get(user=owner)
    assert (payment.status, payment.reversed_hundredths, payment.amount_refunded) == ("refunded", 2000, 1800)
    # New conversions wait until the shortfall is paid.
    with pytest.raises(ShortfallOwed, match=r"took back 15\.00 credits you had already spent"):
        conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=100)
    # The next pack pays it first.
    pack_paid(client, owner, customer=customer)
    assert credit_balance_get(user=owner) == 500
    assert CreditAccount.objects.get(user=owner).shortfall == 0
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=100)
    # The same refund delivered again (a new event id) takes nothing more.
    fake.deliver(client, fake.event("charge.refunded", refunded))
    assert credit_balance_get(user=owner) == 499
    assert audit_is_clean()


def test_a_partial_refund_takes_back_its_share_of_the_pack(client, owner):
    _, intent, customer = pack_paid(client, owner)
    half = fake.charge(payment_intent=intent, customer=customer, amount_refunded=900)
    fake.deliver(client, fake.event("charge.refunded", half))
    assert credit_balance_get(user=owner) == 1000
    assert Payment.objects.get().status == PaymentStatus.PARTIALLY_REFUNDED
    rest = fake.charge(payment_intent=intent, customer=customer, amount_refunded=1800, charge_id=half["id"])
    fake.deliver(client, fake.event("charge.refunded", rest))
    assert credit_balance_get(user=owner) == 0
    assert CreditAccount.objects.get(user=owner).shortfall == 0
    assert audit_is_clean()


def test_a_dispute_takes_back_every_unspent_credit_of_the_payment(client, owner):
    _, intent, customer = pack_paid(client, owner)
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=250_000)  # 5.00 credits
    charged = fake.charge(payment_intent=intent, customer=customer)
    disputed = fake.dispute(charge_id=charged["id"], payment_intent=intent)
    response = fake.deliver(client, fake.event("charge.dispute.created", disputed))
    assert response.status_code == 200
    assert credit_balance_get(user=owner) == 0
    assert CreditAccount.objects.get(user=owner).shortfall == 500
    payment = Payment.objects.get()
    assert (payment.status, payment.stripe_charge_id) == (PaymentStatus.DISPUTED, charged["id"])
    # A refund of the disputed charge afterwards takes nothing more.
    fake.deliver(
        client,
        fake.event(
            "charge.refunded",
            fake.charge(
                payment_intent=intent, customer=customer, amount_refunded=1800, charge_id=charged["id"]
            ),
        ),
    )
    assert CreditAccount.objects.get(user=owner).shortfall == 500
    assert audit_is_clean()


def test_a_refunded_premium_invoice_is_found_through_stripe_and_takes_back_its_allowance(client, owner):
    customer, _, invoice_id = subscribe(client, owner)
    intent = fake.new_id("pi")
    refunded = fake.charge(payment_intent=intent, customer=customer, amount=900, amount_refunded=900)
    with responses.RequestsMock() as rsps:
        fake.answer_invoice_payments(rsps, invoice_id=invoice_id, payment_intent=intent)
        response = fake.deliver(client, fake.event("charge.refunded", refunded))
        assert "payment_intent" in str(rsps.calls[0].request.url)
    assert response.status_code == 200
    assert credit_balance_get(user=owner) == 0
    assert Payment.objects.get(stripe_invoice_id=invoice_id).stripe_payment_intent_id == intent
    assert audit_is_clean()


def test_when_stripe_cannot_be_asked_about_a_refund_the_webhook_answers_503_to_be_sent_again(client, owner):
    customer, _, _ = subscribe(client, owner)
    refunded = fake.charge(
        payment_intent=fake.new_id("pi"), customer=customer, amount=900, amount_refunded=900
    )
    event = fake.event("charge.refunded", refunded)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{fake.API}/v1/invoice_payments", status=500, json={"error": {"message": "down"}})
        response = fake.deliver(client, event)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not StripeEvent.objects.filter(id=event["id"]).exists()
    assert credit_balance_get(user=owner) == 1000


def test_a_refund_of_a_payment_that_is_not_ours_is_recorded_and_ignored(client, owner):
    refunded = fake.charge(payment_intent=fake.new_id("pi"), customer="cus_elsewhere", amount_refunded=1800)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{fake.API}/v1/invoice_payments", json={"object": "list", "data": [], "has_more": False})
        response = fake.deliver(client, fake.event("charge.refunded", refunded))
    assert response.json()["outcome"] == "ignored: not a payment of ours"
    assert audit_is_clean()


def test_an_event_type_not_handled_is_acknowledged(client):
    response = fake.deliver(client, fake.event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")


def test_after_all_of_it_audit_credits_finds_zero_drift(client, owner, stranger):
    """Packs, premium and its renewal, spending, a partial refund, a dispute, replays, the plan's end."""
    _, first_intent, customer = pack_paid(client, owner)
    conversion_charge(user=owner, conversion_uuid=uuid.uuid4(), characters=900_000)  # 18.00
    their_customer, subscription_id, _ = subscribe(client, stranger)
    renewal = fake.invoice(
        invoice_id=fake.new_id("in"),
        customer=their_customer,
        subscription=subscription_id,
        user_id=stranger.pk,
        billing_reason="subscription_cycle",
    )
    renewal_event = fake.event("invoice.paid", renewal)
    fake.deliver(client, renewal_event)
    fake.deliver(client, renewal_event)  # replayed
    refund = fake.charge(payment_intent=first_intent, customer=customer, amount_refunded=900)
    half = fake.event("charge.refunded", refund)
    fake.deliver(client, half)
    _, second_intent, _ = pack_paid(
        client, owner, customer=customer, pack="pack-5", hundredths=500, amount=500
    )
    charged = fake.charge(payment_intent=second_intent, customer=customer, amount=500)
    dispute = fake.dispute(charge_id=charged["id"], payment_intent=second_intent, amount=500)
    fake.deliver(client, fake.event("charge.dispute.created", dispute))
    fake.deliver(client, half)  # replayed
    ended = fake.subscription(
        subscription_id=subscription_id, customer=their_customer, user_id=stranger.pk, status="canceled"
    )
    fake.deliver(client, fake.event("customer.subscription.deleted", ended))
    pack_paid(client, owner, customer=customer)

    # owner: 20 bought, 18 spent; half refunded: 2 taken back, 8 owed; 5 bought pay 5 of the 8;
    # those 5 disputed: already gone to the debt, so 5 more owed (8); 20 bought pay the 8: 12 left.
    assert CreditAccount.objects.get(user=owner).shortfall == 0
    assert credit_balance_get(user=owner) == 1200
    assert credit_balance_get(user=stranger) == 2000
    out = io.StringIO()
    call_command("audit_credits", stdout=out)
    assert out.getvalue().endswith(": 0 mismatches.\n"), out.getvalue()
