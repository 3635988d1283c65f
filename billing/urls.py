"""Billing's own address, mounted at ``/billing/`` in ``ebookvoice.urls``.

The reader's billing pages live in ``audiobooks.web.billing``, beside the credits page.
"""

from __future__ import annotations

from django.urls import path

from . import webhooks

app_name = "billing"

urlpatterns = [
    path("stripe/webhook", webhooks.stripe_webhook, name="stripe-webhook"),
]
