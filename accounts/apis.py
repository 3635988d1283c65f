"""The one API view accounts owns: who the session token belongs to."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import user_profile


class MeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date_joined = serializers.DateTimeField()
    mfa_enabled = serializers.BooleanField()


class MeApi(APIView):
    @extend_schema(
        operation_id="me_retrieve",
        tags=["account"],
        summary="Who this session belongs to",
        responses=MeOutput,
    )
    def get(self, request: Request) -> Response:
        profile = user_profile(user=request.user)  # type: ignore[arg-type]
        return Response(MeOutput(profile).data)
