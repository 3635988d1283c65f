"""``/api/v1/me/statistics``: a person's own figures and storage, beside accounts' ``/api/v1/me``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks import selectors

from .common import user_of


class StorageOutput(serializers.Serializer):
    used_bytes = serializers.IntegerField(help_text="Your originals, covers and audiobooks, in bytes.")
    quota_bytes = serializers.IntegerField(help_text="What your plan allows.")
    free_bytes = serializers.IntegerField()
    used_percent = serializers.FloatField(help_text="Of the quota, to one decimal.")


class ConversionCountsOutput(serializers.Serializer):
    """How many of your conversions are in each status (every status, 0 where none)."""

    queued = serializers.IntegerField()
    synthesizing = serializers.IntegerField()
    assembling = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class StatisticsOutput(serializers.Serializer):
    books = serializers.IntegerField(help_text="Books in your library.")
    conversions = ConversionCountsOutput()
    hours_rendered = serializers.FloatField(help_text="Audio rendered for you, in hours, to two decimals.")
    success_rate = serializers.FloatField(
        allow_null=True,
        help_text="Completed ÷ (completed + failed) conversions, 0–1; null before any has ended. "
        "Cancelled ones do not count.",
    )
    storage = StorageOutput()


class MeStatisticsApi(APIView):
    @extend_schema(
        operation_id="me_statistics_retrieve",
        tags=["account"],
        summary="Your books, conversions, hours rendered, and storage used against your quota",
        responses={200: StatisticsOutput},
    )
    def get(self, request: Request) -> Response:
        return Response(StatisticsOutput(selectors.user_statistics_get(user=user_of(request))).data)
