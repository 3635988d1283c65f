"""Billing's part in deleting and exporting an account (``accounts.signals``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ebookvoice import enqueue

from .models import PREMIUM_STATUSES, Payment, Subscription

if TYPE_CHECKING:
    from accounts.models import User


def cancel_subscriptions_on_deleting(*, user: User, **kwargs: Any) -> None:
    """A deleted account must not go on being charged: its live subscriptions end at Stripe.

    Sent by name once the deletion commits (a deletion that rolls back cancels
    nothing); the task retries while Stripe cannot be reached. The rows go
    with the user, and Stripe's ``customer.subscription.deleted`` then finds no
    one and is recorded as ignored.
    """
    live = Subscription.objects.filter(user=user, status__in=PREMIUM_STATUSES)
    for subscription_id in live.values_list("stripe_subscription_id", flat=True):
        enqueue.send_on_commit("billing.cancel_subscription", subscription_id)


def export_payments(*, user: User, **kwargs: Any) -> dict[str, Any]:
    return {
        "payments": [
            {
                "created_at": payment.created_at.isoformat(),
                "kind": payment.kind,
                "pack": payment.pack_key,
                "credits_hundredths": payment.hundredths,
                "amount": payment.amount,
                "currency": payment.currency,
                "status": payment.status,
                "credits_taken_back_hundredths": payment.reversed_hundredths,
            }
            for payment in Payment.objects.filter(user=user).order_by("id")
        ]
    }
