"""Buying credits and the premium plan from the web: to Stripe Checkout and back, by server redirects only.

No Stripe.js loads on any page (the Content-Security-Policy stays ``'self'``):
"Buy" posts a form here, the server makes the Checkout Session and answers
303 to Stripe's hosted page, where the card is typed. Coming back grants
nothing: the page says the payment was received and waits, polling
``billing/checkout/<session>/status``, until the webhook has added the credits.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import CheckoutKind
from credits.pricing import format_credits
from credits.selectors import credit_balance_get, credit_plan_get
from ebookvoice.errors import DomainError

from .common import refusal, user_of


def _safe_next(request: HttpRequest, value: str | None) -> str:
    """A path on this site to come back to, or the credits page."""
    if value and value.startswith("/") and url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return value[:500]
    return reverse("audiobooks:credits")


def _see_other(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url, status=303)
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_POST
def billing_checkout(request: HttpRequest) -> HttpResponse:
    """ "Buy" or "Go premium": make the Checkout Session and send the browser to Stripe's page."""
    user = user_of(request)
    choice = request.POST.get("pack", "")[:64]
    try:
        checkout = billing_services.checkout_start(
            user=user,
            pack_key=None if choice == CheckoutKind.PREMIUM else choice,
            base_url=request.build_absolute_uri("/"),
            return_path=_safe_next(request, request.POST.get("next")),
        )
    except DomainError as error:
        return refusal(request, error, template="refused.html", context={"status": error.http_status})
    return _see_other(checkout.url)


@login_required
@require_safe
def billing_return(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends the reader back: the payment was received, the credits follow the webhook."""
    user = user_of(request)
    checkout = billing_selectors.checkout_get_for_user(
        user=user, session_id=request.GET.get("session_id", "")
    )
    context = {
        "checkout": checkout,
        "balance": credit_balance_get(user=user),
        "status_url": reverse("audiobooks:billing-checkout-status", args=[checkout.stripe_session_id]),
        "next": checkout.return_path or reverse("audiobooks:credits"),
    }
    response = render(request, "audiobooks/billing_return.html", context)
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def billing_checkout_status(request: HttpRequest, session_id: str) -> JsonResponse:
    """Whether the webhook has landed for this checkout, and the balance now."""
    user = user_of(request)
    checkout = billing_selectors.checkout_get_for_user(user=user, session_id=session_id)
    balance = credit_balance_get(user=user)
    response = JsonResponse(
        {
            "completed": checkout.completed_at is not None,
            "balance": format_credits(balance),
            "balance_hundredths": balance,
            "plan": credit_plan_get(user=user).label,
            "next": checkout.return_path or reverse("audiobooks:credits"),
        }
    )
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_POST
def billing_portal(request: HttpRequest) -> HttpResponse:
    """ "Manage billing": Stripe's Customer Portal (cancel, change card, invoices)."""
    try:
        url = billing_services.portal_url(
            user=user_of(request), return_url=request.build_absolute_uri(reverse("audiobooks:credits"))
        )
    except DomainError as error:
        return refusal(request, error, template="refused.html", context={"status": error.http_status})
    return _see_other(url)


@login_required
@require_safe
def billing_receipt(request: HttpRequest, payment_uuid: UUID) -> HttpResponse:
    """A payment's receipt (a pack) or invoice (premium), on Stripe's site."""
    payment = billing_selectors.payment_get_for_user(user=user_of(request), payment_uuid=payment_uuid)
    try:
        url = billing_services.payment_receipt_url(payment=payment)
    except DomainError as error:
        return refusal(request, error, template="refused.html", context={"status": error.http_status})
    return _see_other(url)
