"""Billing's Celery tasks, sent by name (``ebookvoice.enqueue``); imported by Celery alone."""

from __future__ import annotations

import stripe
from celery import shared_task

from . import services
from .errors import BillingOff


@shared_task(
    name="billing.cancel_subscription",
    # Stripe out of reach, or asking to slow down: try again, for about a day in all.
    autoretry_for=(stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError),
    retry_backoff=True,
    retry_backoff_max=3600,
    max_retries=30,
)
def cancel_subscription(subscription_id: str) -> None:
    try:
        services.subscription_cancel_now(subscription_id=subscription_id)
    except BillingOff:
        # Keys removed since: nothing here can reach Stripe; staff cancel it in the dashboard.
        services.logger.error("billing: cannot cancel %s, billing is off", subscription_id)
