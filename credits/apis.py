"""The credits API: the balance and the pages of one's own ledger."""

from __future__ import annotations

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
from .selectors import credit_balance_get, credit_entries_list, credit_plan_get, storage_quota_get


def _user(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class CreditsOutput(serializers.Serializer):
    balance = serializers.IntegerField()
    plan = serializers.ChoiceField(choices=Plan.choices)
    chars_per_credit = serializers.IntegerField(help_text="One credit buys up to this many characters.")
    storage_quota_bytes = serializers.IntegerField()


class CreditEntryOutput(serializers.Serializer):
    """One movement of credits; the staff member behind a grant is not shown."""

    kind = serializers.ChoiceField(choices=EntryKind.choices)
    amount = serializers.IntegerField(help_text="Signed: a charge is negative.")
    balance_after = serializers.IntegerField()
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
        data = {
            "balance": credit_balance_get(user=user),
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
