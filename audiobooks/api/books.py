"""Books: list (paginated, filterable), upload by multipart, detail with chapters, edit, delete, quote."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks import details, selectors, services
from audiobooks.delivery.files import cover_link
from audiobooks.models import Book
from audiobooks.storage.uploads import (
    FIELD_NAME,
    CappedUploadHandler,
    capped_cover_upload_start,
    capped_upload_start,
)
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.api.pagination import Pagination
from ebookvoice.api.schema import RETRY_AFTER, errors
from ebookvoice.errors import DomainError

from .common import user_of
from .serializers import (
    BookDetailOutput,
    BookListFilter,
    BookOutput,
    BookQuoteInput,
    BookQuoteOutput,
    BookUpdateInput,
    BookUploadInput,
)


def _cover_urls(request: Request, books: list[Book]) -> dict[int, str]:
    return {
        book.pk: request.build_absolute_uri(link.url)
        for book in books
        if (link := cover_link(book)) is not None
    }


def _book_detail(request: Request, book_uuid: UUID) -> dict[str, Any]:
    book = selectors.book_detail_get_for_user(user=user_of(request), book_uuid=book_uuid)
    return dict(BookDetailOutput(book, context={"cover_urls": _cover_urls(request, [book])}).data)


class BookListCreateApi(APIView):
    pagination_class = Pagination
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="books_list",
        tags=["books"],
        summary="Your books, newest first",
        parameters=[BookListFilter],
        responses={200: BookOutput(many=True), **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        query = BookListFilter(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        books = selectors.books_list(
            user=user_of(request),
            status=filters.get("status"),
            q=filters.get("q", ""),
            ordering=filters.get("ordering", "-created_at"),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(books, request, view=self) or []
        context = {"cover_urls": _cover_urls(request, page)}
        return paginator.get_paginated_response(BookOutput(page, many=True, context=context).data)

    @extend_schema(
        operation_id="books_upload",
        tags=["books"],
        summary="Upload a book (multipart, one `file` field)",
        description=(
            "The file is streamed to storage and its reading is queued: poll the book until "
            "its status is `ready` (or `failed`, with a message)."
        ),
        request={"multipart/form-data": BookUploadInput},
        responses={201: BookDetailOutput, **errors(400, 413, 415, 429, 503)},
        parameters=[RETRY_AFTER],
    )
    def post(self, request: Request) -> Response:
        user = user_of(request)
        check_rate_limit(request_or_key=str(user.pk), action=Action.UPLOAD)
        # Before DRF parses the body, so the file streams to disk and stops past the cap.
        handler = capped_upload_start(request._request, user=user)
        if isinstance(handler, DomainError):
            raise handler
        upload = request.FILES.get(FIELD_NAME)
        if isinstance(handler.error, DomainError):
            raise handler.error
        BookUploadInput(data={"file": upload}).is_valid(raise_exception=True)
        assert upload is not None
        try:
            book = services.book_create_from_upload(owner=user, upload=upload, filename=upload.name or "")
        finally:
            upload.close()
        return Response(_book_detail(request, book.uuid), status=status.HTTP_201_CREATED)


class BookDetailApi(APIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="books_retrieve",
        tags=["books"],
        summary="A book with its chapters",
        responses={200: BookDetailOutput, **errors(404)},
    )
    def get(self, request: Request, book_uuid: UUID) -> Response:
        return Response(_book_detail(request, book_uuid))

    @extend_schema(
        operation_id="books_partial_update",
        tags=["books"],
        summary="Change a book's title, authors or cover",
        description=(
            "JSON for the title and authors; multipart to send a cover too (a `cover` file of at most "
            "30 MB: JPEG, PNG, GIF, WebP or SVG, stored as a JPEG or PNG of at most 1400 px). Allowed "
            "once the book is read, before or after converting: the tags of finished files follow."
        ),
        request={"application/json": BookUpdateInput, "multipart/form-data": BookUpdateInput},
        responses={200: BookDetailOutput, **errors(400, 404, 409, 413, 415, 422)},
    )
    def patch(self, request: Request, book_uuid: UUID) -> Response:
        user = user_of(request)
        handler: CappedUploadHandler | None = None
        if (request.content_type or "").startswith("multipart/"):
            # Before DRF parses the body, so the picture streams to disk and stops past 30 MB.
            started = capped_cover_upload_start(request._request)
            if isinstance(started, DomainError):
                raise started
            handler = started
        data = request.data
        if handler is not None and isinstance(handler.error, DomainError):
            raise handler.error
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Send an object: title, authors, cover."]})
        fields: dict[str, Any] = {"title": data["title"]} if "title" in data else {}
        if "authors" in data:
            getlist = getattr(data, "getlist", None)
            fields["authors"] = getlist("authors") if getlist is not None else data["authors"]
        if "cover" in request.FILES:
            fields["cover"] = request.FILES["cover"]
        payload = BookUpdateInput(data=fields)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        # The cover first: of the two, it is the one a bad file refuses, and then nothing has changed.
        if (cover := values.get("cover")) is not None:
            try:
                details.book_cover_replace(user=user, book_uuid=book_uuid, upload=cover, size=cover.size)
            finally:
                cover.close()
        if "title" in values or "authors" in values:
            details.book_details_update(
                user=user, book_uuid=book_uuid, title=values.get("title"), authors=values.get("authors")
            )
        return Response(_book_detail(request, book_uuid))

    @extend_schema(
        operation_id="books_delete",
        tags=["books"],
        summary="Delete a book with all its files",
        responses={204: None, **errors(404)},
    )
    def delete(self, request: Request, book_uuid: UUID) -> Response:
        services.book_delete(user=user_of(request), book_uuid=book_uuid)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BookQuoteApi(APIView):
    # A POST that changes nothing: the chosen chapters of a long book do not fit in a URL.
    @extend_schema(
        operation_id="books_quote",
        tags=["conversions"],
        summary="What converting these chapters would cost (changes nothing)",
        request=BookQuoteInput,
        responses={200: BookQuoteOutput, **errors(400, 404)},
    )
    def post(self, request: Request, book_uuid: UUID) -> Response:
        data = BookQuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = selectors.book_conversion_quote(
            user=user_of(request),
            book_uuid=book_uuid,
            chapter_indexes=data.validated_data["chapters"],
            voice_key=data.validated_data["voice"],
            speed=data.validated_data["speed"],
        )
        return Response(BookQuoteOutput(quote).data)
