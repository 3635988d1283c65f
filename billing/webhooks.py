"""``POST /billing/stripe/webhook``: Stripe's events, the only source of truth for money.

The signature is checked by ``stripe.Webhook.construct_event`` with the
endpoint's secret, never by hand; a missing, wrong or stale one (older than
five minutes) is a 400 and changes nothing. Stripe delivers again after any
answer that is not a 2xx, so a failure here (Stripe's API out of reach while
a refund is matched to its invoice) is a 503, and the event comes back.
"""

from __future__ import annotations

import logging

import stripe
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import conf, services
from .errors import BillingOff, StripeUnavailable

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "HTTP_STRIPE_SIGNATURE"


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt  # Stripe signs its requests; it has no session or CSRF token.
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if not conf.enabled():
        return _refuse(409, "billing_off", BillingOff().message)
    signature = request.META.get(SIGNATURE_HEADER, "")
    if not signature:
        return _refuse(400, "missing_signature", "The Stripe-Signature header is missing.")
    try:
        event = services.stripe_event_verify(payload=request.body, signature=signature)
    except stripe.SignatureVerificationError as exc:
        logger.warning("billing: webhook refused: %s", exc)
        return _refuse(400, "bad_signature", "The Stripe-Signature header does not match this payload.")
    except ValueError:
        return _refuse(400, "bad_payload", "The body is not a Stripe event.")
    try:
        outcome = services.stripe_event_process(event=event)
    except StripeUnavailable as exc:
        response = _refuse(503, "stripe_unavailable", exc.message)
        response["Retry-After"] = str(exc.retry_after_seconds)
        return response
    return JsonResponse({"received": True, "outcome": outcome})
