"""Listening progress and bookmarks per book, shared by the apps and the web player.

These views take the browser's session too (Django's session cookie, with
the CSRF token in ``X-CSRFToken`` on every write, as DRF's
``SessionAuthentication`` demands), so the web player calls the same
endpoints as the phone.
"""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import SessionTokenAuthentication
from audiobooks import listening
from ebookvoice.api.pagination import Pagination
from ebookvoice.api.schema import errors

from .common import user_of
from .serializers import (
    BookmarkCreateInput,
    BookmarkOutput,
    BookmarkUpdateInput,
    ListeningProgressOutput,
    ProgressInput,
)


class ListeningApi(APIView):
    # The token first: its scheme is what a 401 names.
    authentication_classes = [SessionTokenAuthentication, SessionAuthentication]


class ProgressApi(ListeningApi):
    @extend_schema(
        operation_id="books_progress_retrieve",
        tags=["listening"],
        summary="Where you stopped listening to a book",
        description="Chapter 1 at 0 ms, with `recorded_at` null, when you have not listened yet.",
        responses={200: ListeningProgressOutput, **errors(404)},
    )
    def get(self, request: Request, book_uuid: UUID) -> Response:
        progress = listening.listening_progress_get(user=user_of(request), book_uuid=book_uuid)
        return Response(ListeningProgressOutput(progress).data)

    @extend_schema(
        operation_id="books_progress_update",
        tags=["listening"],
        summary="Record where you are in a book",
        description=(
            "The newest place wins: a place recorded earlier than the saved one (a phone syncing "
            "late) changes nothing, and the answer is the place kept."
        ),
        request=ProgressInput,
        responses={200: ListeningProgressOutput, **errors(400, 403, 404)},
    )
    def put(self, request: Request, book_uuid: UUID) -> Response:
        data = ProgressInput(data=request.data)
        data.is_valid(raise_exception=True)
        progress = listening.listening_progress_save(
            user=user_of(request), book_uuid=book_uuid, **data.validated_data
        )
        return Response(ListeningProgressOutput(progress).data)


class BookmarkListCreateApi(ListeningApi):
    pagination_class = Pagination

    @extend_schema(
        operation_id="books_bookmarks_list",
        tags=["listening"],
        summary="A book's bookmarks, in reading order",
        responses={200: BookmarkOutput(many=True), **errors(404)},
    )
    def get(self, request: Request, book_uuid: UUID) -> Response:
        bookmarks = listening.bookmarks_for_book(user=user_of(request), book_uuid=book_uuid)
        paginator = Pagination()
        page = paginator.paginate_queryset(bookmarks, request, view=self)
        return paginator.get_paginated_response(BookmarkOutput(page or [], many=True).data)

    @extend_schema(
        operation_id="books_bookmarks_create",
        tags=["listening"],
        summary="Add a bookmark",
        request=BookmarkCreateInput,
        responses={201: BookmarkOutput, **errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, book_uuid: UUID) -> Response:
        data = BookmarkCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        bookmark = listening.bookmark_create(
            user=user_of(request), book_uuid=book_uuid, **data.validated_data
        )
        return Response(BookmarkOutput(bookmark).data, status=status.HTTP_201_CREATED)


class BookmarkDetailApi(ListeningApi):
    @extend_schema(
        operation_id="books_bookmarks_retrieve",
        tags=["listening"],
        summary="One bookmark",
        responses={200: BookmarkOutput, **errors(404)},
    )
    def get(self, request: Request, book_uuid: UUID, bookmark_uuid: UUID) -> Response:
        bookmark = listening.bookmark_get_for_user(
            user=user_of(request), book_uuid=book_uuid, bookmark_uuid=bookmark_uuid
        )
        return Response(BookmarkOutput(bookmark).data)

    @extend_schema(
        operation_id="books_bookmarks_update",
        tags=["listening"],
        summary="Move a bookmark or change its note",
        request=BookmarkUpdateInput,
        responses={200: BookmarkOutput, **errors(400, 403, 404)},
    )
    def patch(self, request: Request, book_uuid: UUID, bookmark_uuid: UUID) -> Response:
        data = BookmarkUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        bookmark = listening.bookmark_update(
            user=user_of(request), book_uuid=book_uuid, bookmark_uuid=bookmark_uuid, **data.validated_data
        )
        return Response(BookmarkOutput(bookmark).data)

    @extend_schema(
        operation_id="books_bookmarks_delete",
        tags=["listening"],
        summary="Delete a bookmark",
        responses={204: None, **errors(403, 404)},
    )
    def delete(self, request: Request, book_uuid: UUID, bookmark_uuid: UUID) -> Response:
        listening.bookmark_delete(user=user_of(request), book_uuid=book_uuid, bookmark_uuid=bookmark_uuid)
        return Response(status=status.HTTP_204_NO_CONTENT)
