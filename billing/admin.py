"""Staff views of payments, subscriptions, checkouts and Stripe's events; a refund goes through Stripe.

Everything here is read-only: Stripe is the record of money, and its
webhooks change these rows. The one action, *refund in full*, asks Stripe to
refund; the credits come back when Stripe's ``charge.refunded`` arrives, as for
a refund made in Stripe's dashboard.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from credits.pricing import describe_credits
from ebookvoice.errors import DomainError

from .models import Checkout, Payment, StripeEvent, Subscription
from .services import money, payment_refund


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "kind", "paid", "credits", "status", "reference")
    list_filter = ("kind", "status", "currency", "created_at")
    search_fields = (
        "user__email",
        "reference",
        "stripe_charge_id",
        "stripe_invoice_id",
        "stripe_checkout_session_id",
    )
    list_select_related = ("user",)
    actions = ("refund",)

    @admin.display(description="paid", ordering="amount")
    def paid(self, payment: Payment) -> str:
        refunded = (
            f" ({money(payment.amount_refunded, payment.currency)} refunded)"
            if payment.amount_refunded
            else ""
        )
        return money(payment.amount, payment.currency) + refunded

    @admin.display(description="credits", ordering="hundredths")
    def credits(self, payment: Payment) -> str:
        taken = (
            f", {describe_credits(payment.reversed_hundredths)} taken back"
            if payment.reversed_hundredths
            else ""
        )
        return describe_credits(payment.hundredths) + taken

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff and request.user.has_perm("billing.view_payment"))

    @admin.action(description="Refund in full through Stripe (the credits come back with Stripe's webhook)",
                  permissions=["refund"])  # fmt: skip
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        assert isinstance(request.user, User)
        for payment in queryset:
            try:
                refund_id = payment_refund(payment=payment, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{payment}: {error.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{payment}: Stripe is refunding it ({refund_id}); the credits are taken back when "
                    "Stripe confirms.",
                    messages.SUCCESS,
                )


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "stripe_subscription_id", "status", "current_period_end", "cancel_at_period_end")
    list_filter = ("status", "cancel_at_period_end")
    search_fields = ("user__email", "stripe_subscription_id")
    list_select_related = ("user",)


@admin.register(Checkout)
class CheckoutAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "kind", "pack_key", "completed_at", "stripe_session_id")
    list_filter = ("kind", "created_at")
    search_fields = ("user__email", "stripe_session_id")
    list_select_related = ("user",)


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "type", "id", "outcome", "livemode")
    list_filter = ("type", "livemode")
    search_fields = ("id", "outcome")
