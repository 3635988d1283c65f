"""Conversions: create (with ``Idempotency-Key``), list, status with progress and ETA, cancel, files."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks import idempotency, selectors
from audiobooks.delivery.files import conversion_files_for_user
from audiobooks.models import Conversion
from audiobooks.pipeline.edits import ChapterEdit
from audiobooks.pipeline.progress import conversion_progress
from audiobooks.pipeline.revisions import conversion_revise, revision_quote
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from ebookvoice.api.pagination import Pagination
from ebookvoice.api.schema import RETRY_AFTER, errors

from .common import archive_link_data, link_data, user_of
from .serializers import (
    ConversionCreateInput,
    ConversionDetailOutput,
    ConversionFilesOutput,
    ConversionListFilter,
    ConversionOutput,
    RevisionInput,
    RevisionQuoteOutput,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes a retry safe (IETF draft httpapi-idempotency-key-header): the same key and body get "
        "the first response again, with `Idempotent-Replayed: true`; while the first is still being "
        "served, 409; the same key with another body, 422. Keys are yours alone. A refused request "
        "(4xx) keeps no record, so its key can be used again."
    ),
)


def _detail(conversion: Conversion) -> dict[str, Any]:
    conversion = selectors.conversion_detail_get(conversion=conversion)
    context = {"progress": conversion_progress(conversion)}
    return dict(ConversionDetailOutput(conversion, context=context).data)


class ConversionListCreateApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="conversions_list",
        tags=["conversions"],
        summary="Your conversions, newest first",
        parameters=[ConversionListFilter],
        responses={200: ConversionOutput(many=True), **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        query = ConversionListFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        conversions = selectors.conversions_list(
            user=user_of(request),
            book_uuid=query.validated_data.get("book"),
            status=query.validated_data.get("status"),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(conversions, request, view=self)
        return paginator.get_paginated_response(ConversionOutput(page or [], many=True).data)

    @extend_schema(
        operation_id="conversions_create",
        tags=["conversions"],
        summary="Convert chapters of a book",
        description=(
            "Charges the quoted credits and queues the work. Poll the conversion for its progress; "
            "its files appear under `downloads` as chapters become ready."
        ),
        request=ConversionCreateInput,
        responses={201: ConversionDetailOutput, **errors(400, 402, 404, 409, 413, 422, 429, 503)},
        parameters=[IDEMPOTENCY_KEY, RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        user = user_of(request)
        key = idempotency.idempotency_key_parse(request.headers.get(idempotency.HEADER))

        def submit() -> tuple[int, Any]:
            data = ConversionCreateInput(data=request.data)
            data.is_valid(raise_exception=True)
            conversion = conversion_submit(
                user=user,
                book_uuid=data.validated_data["book"],
                chapter_indexes=data.validated_data["chapters"],
                voice_key=data.validated_data["voice"],
                speed=data.validated_data["speed"],
                idempotency_key=key,
            )
            return status.HTTP_201_CREATED, _detail(conversion)

        answer = idempotency.idempotent_response(
            user=user,
            key=key,
            fingerprint=idempotency.request_fingerprint(
                method=request.method or "POST", path=request.path, body=request.data
            ),
            work=submit,
        )
        response = Response(answer.body, status=answer.status)
        if answer.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class ConversionDetailApi(APIView):
    @extend_schema(
        operation_id="conversions_retrieve",
        tags=["conversions"],
        summary="Where a conversion stands: progress, ETA and each chapter",
        responses={200: ConversionDetailOutput, **errors(404)},
    )
    def get(self, request: Request, conversion_uuid: UUID) -> Response:
        conversion = selectors.conversion_get_for_user(user=user_of(request), conversion_uuid=conversion_uuid)
        return Response(_detail(conversion))


class ConversionCancelApi(APIView):
    @extend_schema(
        operation_id="conversions_cancel",
        tags=["conversions"],
        summary="Cancel a conversion; what was not rendered is refunded",
        request=None,
        responses={200: ConversionDetailOutput, **errors(404, 409)},
    )
    def post(self, request: Request, conversion_uuid: UUID) -> Response:
        conversion = conversion_cancel(user=user_of(request), conversion_uuid=conversion_uuid)
        return Response(_detail(conversion))


class ConversionDownloadsApi(APIView):
    @extend_schema(
        operation_id="conversions_downloads",
        tags=["conversions"],
        summary="Short-lived links to the M4B, each chapter's MP3 and its captions, and the MP3s as a zip",
        description="Links last at most 15 minutes; ask again for fresh ones.",
        responses={200: ConversionFilesOutput, **errors(404)},
    )
    def get(self, request: Request, conversion_uuid: UUID) -> Response:
        files = conversion_files_for_user(user=user_of(request), conversion_uuid=conversion_uuid)
        data = {
            "conversion": files.conversion,
            "m4b": link_data(request, files.m4b),
            "mp3_zip": archive_link_data(request, files.mp3_zip),
            "chapters": [
                {
                    "number": chapter.number,
                    "title": chapter.title,
                    "status": chapter.status,
                    "duration_ms": chapter.duration_ms,
                    "mp3": link_data(request, chapter.mp3),
                    "captions": link_data(request, chapter.captions),
                }
                for chapter in files.chapters
            ],
        }
        return Response(ConversionFilesOutput(data).data)


def _revision_asked(request: Request) -> dict[str, Any]:
    """The body's edits and revert target, as ``conversion_revise`` and ``revision_quote`` take them."""
    data = RevisionInput(data=request.data)
    data.is_valid(raise_exception=True)
    return {
        "edits": [ChapterEdit(**edit) for edit in data.validated_data.get("chapters", [])],
        "revert_to": data.validated_data.get("revert_to"),
    }


class ConversionRevisionApi(APIView):
    @extend_schema(
        operation_id="conversions_revisions_create",
        tags=["conversions"],
        summary="Make the audiobook again: with your pronunciation fixes, edited chapters, or as it was",
        description=(
            "A new conversion of the same chapters and voice (`revision_of` this one). With no body, "
            "it is said with your lexicon as it is now; with `chapters`, those chapters' text or speed "
            "change too (edits carry over to later revisions); with `revert_to`, it becomes that earlier "
            "completed revision again. Parts that would sound the same are reused and not charged; the "
            "charge is for the characters of the Parts rendered (on a revert, the Parts no longer "
            "stored). The previous audiobook's files stay downloadable until the new one completes. "
            "409 `revision_running` while any conversion of the book runs, 409 `revision_unchanged` "
            "when no Part would change, 404 `chapter_not_in_audiobook`, 404 `revision_target_unknown`, "
            "409 `revision_target_unfinished`, 400 `chapter_text_empty` or `chapter_text_unspeakable`, "
            "413 `chapter_text_too_long`."
        ),
        request=RevisionInput,
        responses={201: ConversionDetailOutput, **errors(400, 402, 404, 409, 413, 422, 429, 503)},
        parameters=[IDEMPOTENCY_KEY, RETRY_AFTER],
    )
    def post(self, request: Request, conversion_uuid: UUID) -> Response:
        user = user_of(request)
        selectors.conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)  # 404 before the body
        key = idempotency.idempotency_key_parse(request.headers.get(idempotency.HEADER))

        def revise() -> tuple[int, Any]:
            revision = conversion_revise(
                user=user, conversion_uuid=conversion_uuid, idempotency_key=key, **_revision_asked(request)
            )
            return status.HTTP_201_CREATED, _detail(revision)

        answer = idempotency.idempotent_response(
            user=user,
            key=key,
            fingerprint=idempotency.request_fingerprint(
                method=request.method or "POST", path=request.path, body=request.data
            ),
            work=revise,
        )
        response = Response(answer.body, status=answer.status)
        if answer.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class ConversionRevisionQuoteApi(APIView):
    @extend_schema(
        operation_id="conversions_revisions_quote",
        tags=["conversions"],
        summary="What a revision would render and cost, before making it",
        description=(
            "The same body as `POST …/revisions`, refused the same way; nothing is written or charged."
        ),
        request=RevisionInput,
        responses={200: RevisionQuoteOutput, **errors(400, 404, 409, 413, 503)},
    )
    def post(self, request: Request, conversion_uuid: UUID) -> Response:
        user = user_of(request)
        selectors.conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)  # 404 before the body
        quote = revision_quote(user=user, conversion_uuid=conversion_uuid, **_revision_asked(request))
        return Response(RevisionQuoteOutput(quote).data)
