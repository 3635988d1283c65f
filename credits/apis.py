"""The credits API: the balance and the pages of one's own ledger.

Every amount is given twice: as credits, a decimal string with two places
(``"2.50"``), and as an integer number of hundredths of a credit under the
same name with ``_hundredths`` (``250``), the ledger's own unit.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from ebookvoice.api.pagination import Pagination
from ebookvoice.api.schema import errors

from . import conf
from .models import EntryKind, Plan
from .pricing import DEFAULT_VOICE_CHARS_PER_SECOND, audio_seconds, credits_decimal
from .selectors import credit_balance_get, credit_entries_list, credit_plan_get, storage_quota_get


def _user(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class CreditsField(serializers.DecimalField):
    """An amount held in hundredths of a credit, shown as credits: 250 → ``"2.50"``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=14, decimal_places=2, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return super().to_representation(credits_decimal(int(value)))


class CreditsOutput(serializers.Serializer):
    balance = CreditsField(source="balance_hundredths", help_text="Credits, with two decimals.")
    balance_hundredths = serializers.IntegerField(help_text="The balance in hundredths of a credit.")
    balance_audio_seconds = serializers.IntegerField(
        help_text="About how many seconds of audio the balance buys in the default voice at normal speed."
    )
    plan = serializers.ChoiceField(choices=Plan.choices)
    chars_per_credit = serializers.IntegerField(help_text="One credit buys up to this many characters.")
    storage_quota_bytes = serializers.IntegerField()


class CreditEntryOutput(serializers.Serializer):
    """One movement of credits; the staff member behind a grant is not shown."""

    kind = serializers.ChoiceField(choices=EntryKind.choices)
    amount = CreditsField(help_text="Credits, signed: a charge is negative.")
    amount_hundredths = serializers.IntegerField(source="amount", help_text="The amount in hundredths.")
    balance_after = CreditsField()
    balance_after_hundredths = serializers.IntegerField(source="balance_after")
    reason = serializers.CharField()
    conversion = serializers.UUIDField(source="conversion_uuid", allow_null=True)
    created_at = serializers.DateTimeField()


class CreditsApi(APIView):
    @extend_schema(
        operation_id="credits_retrieve",
        tags=["credits"],
        summary="Your balance and plan",
        responses={200: CreditsOutput},
    )
    def get(self, request: Request) -> Response:
        user = _user(request)
        balance = credit_balance_get(user=user)
        data = {
            "balance_hundredths": balance,
            "balance_audio_seconds": audio_seconds(balance, chars_per_second=DEFAULT_VOICE_CHARS_PER_SECOND),
            "plan": credit_plan_get(user=user),
            "chars_per_credit": conf.chars_per_credit(),
            "storage_quota_bytes": storage_quota_get(user=user),
        }
        return Response(CreditsOutput(data).data)


class CreditEntriesApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="credits_entries_list",
        tags=["credits"],
        summary="Your ledger, newest first",
        responses={200: CreditEntryOutput(many=True), **errors(404)},
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(credit_entries_list(user=_user(request)), request, view=self)
        return paginator.get_paginated_response(CreditEntryOutput(page or [], many=True).data)
