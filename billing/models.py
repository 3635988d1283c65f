"""What billing remembers of Stripe: events handled, customers, subscriptions, checkouts, payments.

Stripe is the record of money; these rows are what the site needs to act on
it once: each webhook event by its id (``StripeEvent``), which Stripe customer
is which user, and each payment with the credits it bought, so a refund or a
dispute can take back exactly those.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class StripeEvent(models.Model):
    """One webhook event, recorded in the transaction that acts on it.

    A second delivery finds it and stops.
    """

    id = models.CharField(primary_key=True, max_length=255)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    stripe_created = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class BillingCustomer(models.Model):
    """The Stripe customer made for a user at their first checkout, so every later event finds the user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="billing_customer"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.stripe_customer_id} ({self.user})"


class CheckoutKind(models.TextChoices):
    PACK = "pack", "Credit pack"
    PREMIUM = "premium", "Premium plan"


class Checkout(models.Model):
    """A Checkout Session this site made, and where the reader goes back to once it is paid."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkouts")
    kind = models.CharField(max_length=16, choices=CheckoutKind.choices)
    pack_key = models.CharField(max_length=64, blank=True)
    hundredths = models.IntegerField(default=0, help_text="Credits the pack adds, in hundredths.")
    stripe_session_id = models.CharField(max_length=255, unique=True)
    url = models.URLField(max_length=2000)
    return_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the webhook, never by the redirect back from Checkout.
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} checkout {self.stripe_session_id}"


class SubscriptionStatus(models.TextChoices):
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


# Premium limits apply while Stripe still collects: a failed renewal (past_due) is retried by
# Stripe for days, and the plan ends with the subscription's deletion, not the first failure.
PREMIUM_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE)


class Subscription(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    stripe_subscription_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=32, choices=SubscriptionStatus.choices)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    # The Stripe time of the newest event applied: an older one delivered late changes nothing.
    state_as_of = models.DateTimeField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} ({self.status})"

    @property
    def is_premium(self) -> bool:
        return self.status in PREMIUM_STATUSES


class PaymentKind(models.TextChoices):
    PACK = "pack", "Credit pack"
    SUBSCRIPTION = "subscription", "Premium invoice"


class PaymentStatus(models.TextChoices):
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partly refunded"
    REFUNDED = "refunded", "Refunded"
    DISPUTED = "disputed", "Disputed"


class Payment(models.Model):
    """A paid pack or premium invoice, and the credits it added and may have to give back."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="payments"
    )
    kind = models.CharField(max_length=16, choices=PaymentKind.choices)
    pack_key = models.CharField(max_length=64, blank=True)
    # The ledger's purchase is keyed by it (``credits_purchase``): the payment intent of a pack
    # (its checkout session when nothing was charged), the invoice of a premium month.
    reference = models.CharField(max_length=255, unique=True)
    hundredths = models.IntegerField(help_text="Credits added, in hundredths.")
    reversed_hundredths = models.IntegerField(default=0, help_text="Credits taken back, in hundredths.")
    amount = models.IntegerField(help_text="What was paid, in the currency's minor unit (cents).")
    amount_refunded = models.IntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PAID)
    # The payment's own Stripe ids: the checkout (packs), the invoice (premium), and the payment
    # intent and charge that refunds and disputes name.
    stripe_checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_invoice_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_charge_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    receipt_url = models.URLField(max_length=2000, blank=True)
    invoice_url = models.URLField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(hundredths__gt=0), name="billing_payment_adds_credits"),
            models.CheckConstraint(
                condition=Q(reversed_hundredths__gte=0, reversed_hundredths__lte=models.F("hundredths")),
                name="billing_payment_reverses_at_most_what_it_added",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount / 100:.2f} {self.currency.upper()} ({self.status})"
