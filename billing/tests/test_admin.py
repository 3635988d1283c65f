"""Staff and money: a user's payments, a refund through Stripe that comes back as a webhook, who owes."""

from __future__ import annotations

import pytest
import responses
from django.test import Client
from django.urls import reverse

from billing.models import Payment, PaymentStatus
from billing.tests import stripe_fakes as fake
from credits.models import CreditAccount
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_purchase

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _billing_on(settings):
    fake.billing_on(settings)


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def bought_pack(user) -> tuple[Payment, str]:
    customer = fake.customer_for(user)
    session = fake.checkout_session(
        session_id=fake.new_id("cs"), user_id=user.pk, customer=customer, payment_intent=fake.new_id("pi")
    )
    assert fake.deliver(Client(), fake.event("checkout.session.completed", session)).status_code == 200
    return Payment.objects.get(reference=session["payment_intent"]), customer


def test_staff_see_a_users_payments_from_the_users_list(staff_client, owner, stranger):
    payment, _ = bought_pack(owner)
    bought_pack(stranger)
    user_page = staff_client.get(reverse("admin:accounts_user_change", args=[owner.pk])).content.decode()
    listing = reverse("admin:billing_payment_changelist") + f"?user__id__exact={owner.pk}"
    assert listing in user_page
    page = staff_client.get(listing).content.decode()
    assert "18.00 EUR" in page
    assert payment.reference in page
    assert "stranger@example.com" not in page


def test_a_staff_refund_asks_stripe_and_the_credits_come_back_only_with_the_webhook(staff_client, owner):
    payment, customer = bought_pack(owner)
    with responses.RequestsMock() as rsps:
        rsps.post(
            f"{fake.API}/v1/refunds",
            json={"id": "re_test_1", "object": "refund", "amount": 1800, "currency": "eur",
                  "payment_intent": payment.stripe_payment_intent_id, "status": "succeeded"},
        )  # fmt: skip
        response = staff_client.post(
            reverse("admin:billing_payment_changelist"),
            {"action": "refund", "_selected_action": [payment.pk]},
            follow=True,
        )
        sent = fake.form_fields(rsps.calls[0])
        assert sent["payment_intent"] == [payment.stripe_payment_intent_id]
        assert rsps.calls[0].request.headers["Idempotency-Key"] == f"ebookvoice-refund-{payment.uuid}"
    assert "Stripe is refunding it (re_test_1)" in response.content.decode()
    assert credit_balance_get(user=owner) == 2000  # nothing yet: the webhook decides
    refunded = fake.charge(
        payment_intent=payment.stripe_payment_intent_id or "", customer=customer, amount_refunded=1800
    )
    fake.deliver(Client(), fake.event("charge.refunded", refunded))
    assert credit_balance_get(user=owner) == 0
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED
    assert not ledger_audit().mismatches


def test_a_premium_invoice_is_refunded_through_its_payment_intent(staff_client, owner):
    customer = fake.customer_for(owner)
    invoice_id = fake.new_id("in")
    invoice = fake.invoice(
        invoice_id=invoice_id, customer=customer, subscription=fake.new_id("sub"), user_id=owner.pk
    )
    fake.deliver(Client(), fake.event("invoice.paid", invoice))
    payment = Payment.objects.get(stripe_invoice_id=invoice_id)
    with responses.RequestsMock() as rsps:
        fake.answer_invoice_payments(rsps, invoice_id=invoice_id, payment_intent="pi_invoice")
        rsps.post(f"{fake.API}/v1/refunds", json={"id": "re_2", "object": "refund", "status": "pending"})
        staff_client.post(
            reverse("admin:billing_payment_changelist"),
            {"action": "refund", "_selected_action": [payment.pk]},
        )
        assert f"invoice={invoice_id}" in str(rsps.calls[0].request.url)
        assert fake.form_fields(rsps.calls[1])["payment_intent"] == ["pi_invoice"]


def test_a_payment_already_refunded_is_not_sent_to_stripe_again(staff_client, owner):
    payment, _ = bought_pack(owner)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REFUNDED)
    with responses.RequestsMock():
        response = staff_client.post(
            reverse("admin:billing_payment_changelist"),
            {"action": "refund", "_selected_action": [payment.pk]},
            follow=True,
        )
    assert "already been refunded in full" in response.content.decode()


def test_staff_list_the_accounts_that_owe_and_can_waive_it(staff_client, owner, stranger):
    credits_purchase(user=stranger, hundredths=100, payment_reference="pi_s")
    CreditAccount.objects.filter(user=owner).delete()
    CreditAccount.objects.create(user=owner, shortfall=1500)
    listing = staff_client.get(
        reverse("admin:credits_creditaccount_changelist") + "?owes=yes"
    ).content.decode()
    assert "owner@example.com" in listing
    assert "15.00 credits" in listing
    assert "stranger@example.com" not in listing
    staff_client.post(
        reverse("admin:credits_creditaccount_changelist"),
        {"action": "waive_shortfall", "_selected_action": [owner.pk]},
    )
    assert CreditAccount.objects.get(user=owner).shortfall == 0


def test_readers_cannot_open_the_payments_admin(client, owner):
    client.force_login(owner)
    response = client.get(reverse("admin:billing_payment_changelist"))
    assert response.status_code == 302
