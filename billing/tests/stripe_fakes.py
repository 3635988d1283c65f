"""Stripe, faked at its edge: events signed as Stripe signs them, and API answers of the real shapes.

Everything the site does with Stripe crosses HTTP: webhooks come in (signed
here with the endpoint secret, ``t=<unix time>,v1=<HMAC-SHA256 of "t.payload">``,
as https://docs.stripe.com/webhooks#verify-manually documents) and API calls
go out (answered by ``responses``). The payloads follow Stripe's API reference
for the version the ``stripe`` library pins, trimmed of fields nothing reads.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

import responses
from django.test import Client

from billing.models import BillingCustomer

SECRET_KEY = "sk_test_51Ebookvoice0000000000000000000000000000000000"
WEBHOOK_SECRET = "whsec_test_ebookvoice_0123456789abcdef"
PRICES = {
    "pack-5": "price_1Pack5Eur000000000000",
    "pack-20": "price_1Pack20Eur00000000000",
    "pack-50": "price_1Pack50Eur00000000000",
    "premium": "price_1PremiumMonthlyEur000",
}
API = "https://api.stripe.com"
API_VERSION = "2026-10-28.endive"

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):08d}{int(time.time() * 1000) % 100000:05d}"


def billing_on(settings: Any) -> None:
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PRICES = dict(PRICES)
    settings.BILLING_CURRENCY = "eur"
    settings.BILLING_PACKS = None
    settings.BILLING_PREMIUM_MONTHLY_CREDITS = 10


# --- Signing -----------------------------------------------------------------------------------------


def signature(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for ``payload``: ``t=…,v1=HMAC-SHA256(secret, "t.payload")``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def deliver(
    client: Client,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> Any:
    """POST the event to the real endpoint, signed (or with ``header`` as given)."""
    payload = json.dumps(event)
    sig = signature(payload, secret=secret, timestamp=timestamp) if header is None else header
    extra: dict[str, Any] = {"HTTP_STRIPE_SIGNATURE": sig} if sig else {}
    return client.post("/billing/stripe/webhook", payload, content_type="application/json", **extra)


# --- Events ----------------------------------------------------------------------------------------


def event(kind: str, obj: dict[str, Any], *, created: int | None = None, event_id: str | None = None) -> dict:
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj, "previous_attributes": {}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": new_id("req"), "idempotency_key": None},
        "type": kind,
    }


def checkout_session(
    *,
    session_id: str,
    user_id: int,
    customer: str,
    mode: str = "payment",
    pack: str | None = "pack-20",
    hundredths: int = 2000,
    amount_total: int = 1800,
    payment_intent: str | None = None,
    subscription: str | None = None,
    payment_status: str = "paid",
) -> dict[str, Any]:
    metadata = {"user_id": str(user_id)}
    if mode == "payment" and pack:
        metadata |= {"pack": pack, "hundredths": str(hundredths)}
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": "http://testserver/credits/",
        "client_reference_id": str(user_id),
        "created": int(time.time()) - 60,
        "currency": "eur",
        "customer": customer,
        "customer_details": {"email": "owner@example.com", "name": None, "tax_exempt": "none"},
        "expires_at": int(time.time()) + 86400,
        "invoice": None,
        "livemode": False,
        "metadata": metadata,
        "mode": mode,
        "payment_intent": payment_intent if mode == "payment" else None,
        "payment_status": payment_status,
        "status": "complete",
        "subscription": subscription if mode == "subscription" else None,
        "success_url": "http://testserver/billing/return?session_id={CHECKOUT_SESSION_ID}",
        "url": None,
    }


def invoice(
    *,
    invoice_id: str,
    customer: str,
    subscription: str,
    user_id: int,
    amount_paid: int = 900,
    period_start: int | None = None,
    billing_reason: str = "subscription_create",
) -> dict[str, Any]:
    start = int(time.time()) if period_start is None else period_start
    end = start + 30 * 86400
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "IE",
        "amount_due": amount_paid,
        "amount_paid": amount_paid,
        "amount_remaining": 0,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": start,
        "currency": "eur",
        "customer": customer,
        "customer_email": "owner@example.com",
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_test/{invoice_id}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/acct_test/{invoice_id}/pdf",
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": new_id("il"),
                    "object": "line_item",
                    "amount": amount_paid,
                    "currency": "eur",
                    "description": "1 × Premium (at €9.00 / month)",
                    "period": {"end": end, "start": start},
                    "pricing": {
                        "price_details": {"price": PRICES["premium"], "product": "prod_test_premium"},
                        "type": "price_details",
                    },
                    "quantity": 1,
                }
            ],
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": {"user_id": str(user_id)}, "subscription": subscription},
            "type": "subscription_details",
        },
        "period_end": start,
        "period_start": start,
        "status": "paid",
        "status_transitions": {"paid_at": start, "finalized_at": start},
        "total": amount_paid,
    }


def subscription(
    *,
    subscription_id: str,
    customer: str,
    user_id: int,
    status: str = "active",
    cancel_at_period_end: bool = False,
    period_end: int | None = None,
) -> dict[str, Any]:
    end = int(time.time()) + 30 * 86400 if period_end is None else period_end
    return {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": int(time.time()) if status == "canceled" else None,
        "collection_method": "charge_automatically",
        "created": end - 30 * 86400,
        "currency": "eur",
        "customer": customer,
        "ended_at": int(time.time()) if status == "canceled" else None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": new_id("si"),
                    "object": "subscription_item",
                    "current_period_end": end,
                    "current_period_start": end - 30 * 86400,
                    "price": {
                        "id": PRICES["premium"],
                        "object": "price",
                        "currency": "eur",
                        "unit_amount": 900,
                    },
                    "quantity": 1,
                    "subscription": subscription_id,
                }
            ],
            "has_more": False,
        },
        "latest_invoice": new_id("in"),
        "livemode": False,
        "metadata": {"user_id": str(user_id)},
        "status": status,
    }


def charge(
    *,
    payment_intent: str,
    customer: str,
    amount: int = 1800,
    amount_refunded: int = 0,
    charge_id: str | None = None,
) -> dict[str, Any]:
    charge_id = charge_id or new_id("ch")
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "captured": True,
        "created": int(time.time()) - 120,
        "currency": "eur",
        "customer": customer,
        "disputed": False,
        "livemode": False,
        "paid": True,
        "payment_intent": payment_intent,
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}, "type": "card"},
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }


def dispute(*, charge_id: str, payment_intent: str, amount: int = 1800) -> dict[str, Any]:
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "charge": charge_id,
        "created": int(time.time()),
        "currency": "eur",
        "is_charge_refundable": False,
        "livemode": False,
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": "needs_response",
    }


# --- The API's answers -------------------------------------------------------------------------------


def customer_for(user: Any) -> str:
    """A Stripe customer already linked to ``user``, as the first checkout leaves it."""
    customer_id = new_id("cus")
    BillingCustomer.objects.create(user=user, stripe_customer_id=customer_id)
    return customer_id


def answer_customer_create(rsps: responses.RequestsMock, *, customer_id: str, email: str) -> None:
    rsps.post(
        f"{API}/v1/customers",
        json={
            "id": customer_id,
            "object": "customer",
            "email": email,
            "created": int(time.time()),
            "livemode": False,
            "metadata": {},
        },
    )


def answer_checkout_create(
    rsps: responses.RequestsMock, *, session_id: str, mode: str = "payment"
) -> responses.BaseResponse:
    return rsps.post(
        f"{API}/v1/checkout/sessions",
        json={
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "payment_status": "unpaid",
            "status": "open",
            "livemode": False,
            "currency": "eur",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
            "expires_at": int(time.time()) + 86400,
            "metadata": {},
        },
    )


def answer_invoice_payments(rsps: responses.RequestsMock, *, invoice_id: str, payment_intent: str) -> None:
    rsps.get(
        f"{API}/v1/invoice_payments",
        json={
            "object": "list",
            "data": [
                {
                    "id": new_id("inpay"),
                    "object": "invoice_payment",
                    "amount_paid": 900,
                    "amount_requested": 900,
                    "currency": "eur",
                    "invoice": invoice_id,
                    "is_default": True,
                    "livemode": False,
                    "payment": {"payment_intent": payment_intent, "type": "payment_intent"},
                    "status": "paid",
                }
            ],
            "has_more": False,
            "url": "/v1/invoice_payments",
        },
    )


def form_fields(call: Any) -> dict[str, list[str]]:
    """The form-encoded body Stripe's library sent, as a dict of lists."""
    from urllib.parse import parse_qs

    body = call.request.body
    return parse_qs(body.decode() if isinstance(body, bytes) else body)
