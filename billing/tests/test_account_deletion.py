"""A deleted account stops being charged, and an export lists its payments."""

from __future__ import annotations

import pytest
import responses
from django.test import Client

from accounts.selectors import user_export
from accounts.services import user_delete
from billing.models import Payment, Subscription
from billing.tasks import cancel_subscription
from billing.tests import stripe_fakes as fake

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _billing_on(settings):
    fake.billing_on(settings)


def premium(user) -> str:
    customer, subscription_id = fake.customer_for(user), fake.new_id("sub")
    invoice = fake.invoice(
        invoice_id=fake.new_id("in"), customer=customer, subscription=subscription_id, user_id=user.pk
    )
    assert fake.deliver(Client(), fake.event("invoice.paid", invoice)).status_code == 200
    return subscription_id


def test_deleting_an_account_sends_its_live_subscription_to_be_cancelled_once_it_commits(
    owner, django_capture_on_commit_callbacks
):
    subscription_id = premium(owner)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user_delete(user=owner)
    sent = [(callback.func.__name__, callback.args) for callback in callbacks]
    assert ("send", ("billing.cancel_subscription", subscription_id)) in sent
    assert not Subscription.objects.exists()
    # The payment stays, detached: it is Stripe's record of money, kept for the books.
    assert Payment.objects.get().user is None


def test_the_task_cancels_at_stripe_and_a_subscription_already_ended_is_fine():
    with responses.RequestsMock() as rsps:
        rsps.delete(f"{fake.API}/v1/subscriptions/sub_live",
                    json={"id": "sub_live", "object": "subscription", "status": "canceled"})  # fmt: skip
        rsps.delete(
            f"{fake.API}/v1/subscriptions/sub_gone",
            status=404,
            json={"error": {"code": "resource_missing", "type": "invalid_request_error",
                            "message": "No such subscription: 'sub_gone'"}},
        )  # fmt: skip
        cancel_subscription("sub_live")
        cancel_subscription("sub_gone")
        assert [call.request.method for call in rsps.calls] == ["DELETE", "DELETE"]


def test_the_export_lists_the_payments(owner):
    premium(owner)
    exported = user_export(user=owner)
    assert exported["payments"] == [
        {
            "created_at": Payment.objects.get().created_at.isoformat(),
            "kind": "subscription",
            "pack": "",
            "credits_hundredths": 1000,
            "amount": 900,
            "currency": "eur",
            "status": "paid",
            "credits_taken_back_hundredths": 0,
        }
    ]
