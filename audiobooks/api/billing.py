"""Billing for apps: the plan, packs and prices, and a Checkout link to open in a browser.

Mobile apps sell through their store's billing; this small API lets an app
show what the site sells and hand the reader to Stripe Checkout on the web.
Credits arrive only by Stripe's webhook, as on the web.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks import idempotency
from billing import conf as billing_conf
from billing import selectors as billing_selectors
from billing import services as billing_services
from credits.models import Plan
from credits.selectors import credit_plan_get
from ebookvoice.api.schema import RETRY_AFTER, errors

from .common import user_of
from .conversions import IDEMPOTENCY_KEY


class PackOutput(serializers.Serializer):
    key = serializers.CharField(help_text="What to send as `pack` to buy it.")
    credits = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="The price in the currency's minor unit (cents).")
    currency = serializers.CharField(help_text="ISO 4217, lower case.")
    price = serializers.CharField(help_text='The price as people read it: "18.00 EUR".')


class PremiumOutput(serializers.Serializer):
    key = serializers.CharField(help_text="What to send as `pack` to subscribe.")
    amount = serializers.IntegerField(help_text="The monthly price in the currency's minor unit.")
    currency = serializers.CharField()
    price = serializers.CharField()
    monthly_credits = serializers.IntegerField(
        help_text="Credits added with each paid month; they roll over."
    )


class BillingOutput(serializers.Serializer):
    enabled = serializers.BooleanField(
        help_text="False when this site takes no payments; nothing can be bought."
    )
    plan = serializers.ChoiceField(choices=Plan.choices)
    renews_at = serializers.DateTimeField(allow_null=True, help_text="The premium plan's next renewal.")
    ends_at = serializers.DateTimeField(allow_null=True, help_text="When a cancelled premium plan ends.")
    currency = serializers.CharField()
    packs = PackOutput(many=True)
    premium = PremiumOutput()


class CheckoutInput(serializers.Serializer):
    pack = serializers.CharField(max_length=64, help_text='A pack\'s `key`, or `"premium"` for the plan.')


class CheckoutOutput(serializers.Serializer):
    checkout_url = serializers.URLField(help_text="Stripe Checkout's page: open it in a browser.")
    session_id = serializers.CharField()


class BillingApi(APIView):
    @extend_schema(
        operation_id="billing_retrieve",
        tags=["billing"],
        summary="Your plan, its renewal, and the packs and prices on sale",
        responses={200: BillingOutput},
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        overview = billing_selectors.billing_overview(user=user)
        premium = overview.premium
        data = {
            "enabled": overview.enabled,
            "plan": credit_plan_get(user=user),
            "renews_at": overview.renews_at,
            "ends_at": overview.ends_at,
            "currency": overview.currency,
            "packs": [
                {
                    "key": p.key,
                    "credits": p.credits,
                    "amount": p.amount,
                    "currency": p.currency,
                    "price": p.price,
                }
                for p in overview.packs
            ],
            "premium": {
                "key": billing_conf.PREMIUM,
                "amount": premium.amount,
                "currency": premium.currency,
                "price": premium.price,
                "monthly_credits": premium.monthly_credits,
            },
        }
        return Response(BillingOutput(data).data)


class BillingCheckoutApi(APIView):
    @extend_schema(
        operation_id="billing_checkout_create",
        tags=["billing"],
        summary="A Stripe Checkout link for a pack or the premium plan",
        description=(
            "201 with the URL of Stripe's hosted Checkout page, to open in a browser. Nothing is "
            "bought until the reader pays there; the credits (or the plan) follow by Stripe's webhook. "
            "409 when this site takes no payments, or when asking for premium while on it."
        ),
        request=CheckoutInput,
        responses={201: CheckoutOutput, **errors(400, 409, 422, 429, 503)},
        parameters=[IDEMPOTENCY_KEY, RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        user = user_of(request)
        key = idempotency.idempotency_key_parse(request.headers.get(idempotency.HEADER))

        def start() -> tuple[int, Any]:
            data = CheckoutInput(data=request.data)
            data.is_valid(raise_exception=True)
            choice = data.validated_data["pack"]
            checkout = billing_services.checkout_start(
                user=user,
                pack_key=None if choice == billing_conf.PREMIUM else choice,
                base_url=request.build_absolute_uri("/"),
                idempotency_key=key,
            )
            return status.HTTP_201_CREATED, {
                "checkout_url": checkout.url,
                "session_id": checkout.stripe_session_id,
            }

        answer = idempotency.idempotent_response(
            user=user,
            key=key,
            fingerprint=idempotency.request_fingerprint(
                method=request.method or "POST", path=request.path, body=request.data
            ),
            work=start,
        )
        response = Response(answer.body, status=answer.status)
        if answer.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
