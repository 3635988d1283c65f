"""API views for books (``/api/v1/``), one per use case, authenticated by ``X-Session-Token``.

Direct upload, in three steps:

1. ``POST /api/v1/uploads`` reserves room and answers with a short-lived PUT
   link and the exact headers to send with it;
2. the app PUTs the file there (S3/R2, or this app's signed link locally);
3. ``POST /api/v1/uploads/<upload_id>/finish`` checks what arrived and makes
   the book, whose ingestion is queued.

Errors come as ``{"error": {"code", "message"}}`` (``api_errors``).
"""

from __future__ import annotations

from uuid import UUID

from django.urls import reverse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from credits.ratelimits import Action, check_rate_limit

from . import services
from .api_errors import ApiErrorsMixin
from .models import StoredObject


def _user(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class UploadStartApi(ApiErrorsMixin, APIView):
    """Start a direct upload: 201 with where to PUT the file, how, and until when."""

    class InputSerializer(serializers.Serializer):
        filename = serializers.CharField(max_length=1000)
        size = serializers.IntegerField(min_value=0, help_text="The file's exact size in bytes.")
        content_type = serializers.CharField(max_length=200)

    class OutputSerializer(serializers.Serializer):
        upload_id = serializers.UUIDField()
        method = serializers.CharField()
        url = serializers.CharField()
        headers = serializers.DictField(child=serializers.CharField())
        url_expires_at = serializers.DateTimeField()
        finish_by = serializers.DateTimeField()
        finish_url = serializers.CharField()

    def post(self, request: Request) -> Response:
        user = _user(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The same counter as the browser upload (django-ratelimit's per-user key).
        check_rate_limit(request_or_key=str(user.pk), action=Action.UPLOAD)
        started = services.upload_start(user=user, **serializer.validated_data)
        finish_path = reverse("api_upload_finish", kwargs={"upload_id": started.upload_id})
        data = {
            "upload_id": started.upload_id,
            "method": "PUT",
            # Presigned S3 URLs are absolute already; local links are paths on this site.
            "url": request.build_absolute_uri(started.url),
            "headers": started.headers,
            "url_expires_at": started.url_expires_at,
            "finish_by": started.finish_by,
            "finish_url": request.build_absolute_uri(finish_path),
        }
        return Response(self.OutputSerializer(data).data, status=status.HTTP_201_CREATED)


class UploadFinishApi(ApiErrorsMixin, APIView):
    """Finish a direct upload: 201 with the new book, 200 with the same book when repeated."""

    class OutputSerializer(serializers.Serializer):
        book = serializers.UUIDField(source="uuid")
        status = serializers.CharField()
        original_filename = serializers.CharField()
        original_size = serializers.IntegerField()

    def post(self, request: Request, upload_id: UUID) -> Response:
        user = _user(request)
        # Only to choose 201 or 200; the service decides, under its lock, what happens.
        # A repeat uses no rate-limit slot: the upload was counted when it started.
        already = StoredObject.objects.filter(owner=user, uuid=upload_id, book__isnull=False).exists()
        book = services.upload_finish(user=user, upload_id=upload_id)
        return Response(
            self.OutputSerializer(book).data,
            status=status.HTTP_200_OK if already else status.HTTP_201_CREATED,
        )
