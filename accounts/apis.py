"""The API views accounts owns: who the session token belongs to, and changing their profile.

The statistics and storage of ``/api/v1/me/statistics`` are the audiobooks
app's (``audiobooks.api.profile``): accounts knows nothing about books.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ebookvoice.api.schema import errors

from .models import User
from .selectors import user_profile
from .services import user_profile_update

NAME_MAX_LENGTH = User._meta.get_field("first_name").max_length


class MeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date_joined = serializers.DateTimeField()
    mfa_enabled = serializers.BooleanField()
    notify_by_email = serializers.BooleanField(help_text="An email when an audiobook is ready, or failed.")


def _no_control_characters(value: str) -> None:
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise serializers.ValidationError("A name cannot contain control characters (tabs, line breaks …).")


class NameField(serializers.CharField):
    """Text only: DRF's CharField would take ``42`` or ``true`` as the name "42" or "True"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MeUpdateInput(serializers.Serializer):
    """What a person may change about themselves here; anything else is refused, not ignored."""

    first_name = NameField(
        required=False, allow_blank=True, max_length=NAME_MAX_LENGTH, validators=[_no_control_characters]
    )
    last_name = NameField(
        required=False, allow_blank=True, max_length=NAME_MAX_LENGTH, validators=[_no_control_characters]
    )
    notify_by_email = serializers.BooleanField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                # A typo or a read-only field (email, id) silently ignored would look like success.
                raise serializers.ValidationError(
                    {name: ["This field cannot be changed here."] for name in unknown}
                )
        return super().to_internal_value(data)


def _user(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class MeApi(APIView):
    @extend_schema(
        operation_id="me_retrieve",
        tags=["account"],
        summary="Who this session belongs to",
        responses=MeOutput,
    )
    def get(self, request: Request) -> Response:
        return Response(MeOutput(user_profile(user=_user(request))).data)

    @extend_schema(
        operation_id="me_update",
        tags=["account"],
        summary="Change your name or whether you get an email when an audiobook is ready",
        request=MeUpdateInput,
        responses={200: MeOutput, **errors(400)},
    )
    def patch(self, request: Request) -> Response:
        data = MeUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_profile_update(user=_user(request), **data.validated_data)
        return Response(MeOutput(user_profile(user=user)).data)
