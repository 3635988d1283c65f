"""Direct upload, in three steps:

1. ``POST /api/v1/uploads`` reserves room and answers with a short-lived PUT
   link and the exact headers to send with it;
2. the app PUTs the file there (S3/R2, or this app's signed link locally);
3. ``POST /api/v1/uploads/<upload_id>/finish`` checks what arrived and makes
   the book, whose ingestion is queued.
"""

from __future__ import annotations

from uuid import UUID

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks import selectors, services
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.api.schema import RETRY_AFTER, errors

from .common import user_of
from .serializers import UploadFinishOutput, UploadStartInput, UploadStartOutput


class UploadStartApi(APIView):
    @extend_schema(
        operation_id="upload_start",
        tags=["books"],
        summary="Start a direct upload",
        description="201 with where to PUT the file, how, and until when.",
        request=UploadStartInput,
        responses={201: UploadStartOutput, **errors(400, 413, 415, 429, 503)},
        parameters=[RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        user = user_of(request)
        serializer = UploadStartInput(data=request.data)
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
        return Response(UploadStartOutput(data).data, status=status.HTTP_201_CREATED)


class UploadFinishApi(APIView):
    @extend_schema(
        operation_id="upload_finish",
        tags=["books"],
        summary="Finish a direct upload",
        description="201 with the new book; 200 with the same book when repeated.",
        request=None,
        responses={
            201: UploadFinishOutput,
            200: UploadFinishOutput,
            **errors(404, 409, 410, 413, 422),
        },
    )
    def post(self, request: Request, upload_id: UUID) -> Response:
        user = user_of(request)
        # Only to choose 201 or 200; the service decides, under its lock, what happens.
        # A repeat uses no rate-limit slot: the upload was counted when it started.
        already = selectors.upload_finished(user=user, upload_id=upload_id)
        book = services.upload_finish(user=user, upload_id=upload_id)
        return Response(
            UploadFinishOutput(book).data,
            status=status.HTTP_200_OK if already else status.HTTP_201_CREATED,
        )
