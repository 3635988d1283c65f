"""The player's helpers: captions served from this site, and the listening position.

Captions come through Django rather than a redirect to storage: a ``<track>``
element loads them in CORS mode, which a redirect to another origin (S3, R2)
would refuse; they are a few kilobytes. The position is the book's
``ListeningProgress`` (``audiobooks.listening``), the same place the apps
read and write through the API, so a reader resumes where they stopped on
any device.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from audiobooks import listening, selectors
from audiobooks.errors import BookError
from audiobooks.listening import MAX_CHAPTER_NUMBER, MAX_NOTE_LENGTH, MAX_POSITION_MS
from audiobooks.models import Bookmark
from audiobooks.storage import backend
from ebookvoice.errors import DomainError
from ebookvoice.inputs import parse_float, parse_int

from .common import refusal, user_of


def player_position_get(*, user: User, book_uuid: UUID) -> dict[str, float | int] | None:
    """``{"chapter", "seconds"}`` where the reader stopped, or None before they first listened."""
    progress = listening.listening_progress_get(user=user, book_uuid=book_uuid)
    if progress.recorded_at is None:
        return None
    return {"chapter": progress.chapter, "seconds": round(progress.position_ms / 1000, 1)}


@login_required
@require_safe
def book_captions(request: HttpRequest, book_uuid: UUID, number: int) -> StreamingHttpResponse:
    """A ready chapter's WebVTT captions, from this origin; 404 for another's book or a chapter not ready."""
    _book, stored = selectors.book_file_get_for_user(
        user=user_of(request), book_uuid=book_uuid, name=f"captions/{number:02d}.vtt"
    )
    response = StreamingHttpResponse(
        backend.object_chunks(stored.key), content_type="text/vtt; charset=utf-8"
    )
    patch_cache_control(response, private=True, max_age=300)
    return response


class InvalidPosition(DomainError):
    code = "invalid_position"


@login_required
@require_http_methods(["GET", "POST"])
def book_position(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    """``GET``: ``{"chapter", "seconds"}`` or ``{}``; ``POST`` (form: chapter, seconds): remember them.

    The player posts with the page's CSRF token, also from ``navigator.sendBeacon``
    when the page is closed.
    """
    user = user_of(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    if request.method == "POST":
        chapter = parse_int(request.POST.get("chapter"), low=1, high=MAX_CHAPTER_NUMBER)
        seconds = parse_float(request.POST.get("seconds"), low=0, high=MAX_POSITION_MS / 1000)
        if chapter is None or seconds is None:
            return refusal(
                request,
                InvalidPosition(
                    f"Send the chapter number (from 1 to {MAX_CHAPTER_NUMBER:,}) and the seconds into it "
                    f"(from 0 to {MAX_POSITION_MS // 1000:,})."
                ),
            )
        try:
            listening.listening_progress_save(
                user=user, book_uuid=book.uuid, chapter=chapter, position_ms=round(seconds * 1000)
            )
        except BookError as error:
            return refusal(request, InvalidPosition(error.message))
    response = JsonResponse(player_position_get(user=user, book_uuid=book.uuid) or {})
    patch_cache_control(response, private=True, no_store=True)
    return response


class InvalidBookmark(DomainError):
    code = "invalid_bookmark"


def clock(position_ms: int) -> str:
    """``1:02:05`` or ``2:05``, as the player shows times."""
    seconds = position_ms // 1000
    hours, minutes = seconds // 3600, seconds // 60 % 60
    return f"{hours}:{minutes:02d}:{seconds % 60:02d}" if hours else f"{minutes}:{seconds % 60:02d}"


def bookmark_json(bookmark: Bookmark) -> dict[str, object]:
    return {
        "id": str(bookmark.uuid),
        "chapter": bookmark.chapter,
        "seconds": round(bookmark.position_ms / 1000, 1),
        "at": clock(bookmark.position_ms),
        "note": bookmark.note,
    }


def player_bookmarks(*, user: User, book_uuid: UUID) -> list[dict[str, object]]:
    """The book's bookmarks in reading order, as the player lists them."""
    return [
        bookmark_json(bookmark) for bookmark in listening.bookmarks_for_book(user=user, book_uuid=book_uuid)
    ]


@login_required
@require_http_methods(["GET", "POST"])
def book_bookmarks(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    """``GET``: ``{"bookmarks": […]}``; ``POST`` (form: chapter, seconds, note): add one, 201.

    The web player's door to the same bookmarks the apps keep through the API.
    """
    user = user_of(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    if request.method == "GET":
        response = JsonResponse({"bookmarks": player_bookmarks(user=user, book_uuid=book.uuid)})
        patch_cache_control(response, private=True, no_store=True)
        return response
    chapter = parse_int(request.POST.get("chapter"), low=1, high=MAX_CHAPTER_NUMBER)
    seconds = parse_float(request.POST.get("seconds"), low=0, high=MAX_POSITION_MS / 1000)
    note = request.POST.get("note", "")
    if chapter is None or seconds is None:
        return refusal(
            request,
            InvalidBookmark(
                f"Send the chapter number (from 1 to {MAX_CHAPTER_NUMBER:,}) and the seconds into it "
                f"(from 0 to {MAX_POSITION_MS // 1000:,})."
            ),
        )
    if len(note.strip()) > MAX_NOTE_LENGTH:
        return refusal(
            request, InvalidBookmark(f"A bookmark's note can be up to {MAX_NOTE_LENGTH} characters.")
        )
    try:
        bookmark = listening.bookmark_create(
            user=user, book_uuid=book.uuid, chapter=chapter, position_ms=round(seconds * 1000), note=note
        )
    except DomainError as error:
        return refusal(request, error)
    return JsonResponse({"bookmark": bookmark_json(bookmark)}, status=201)


@login_required
@require_POST
def book_bookmark_delete(request: HttpRequest, book_uuid: UUID, bookmark_uuid: UUID) -> HttpResponse:
    """Delete one of the book's bookmarks; another user's, or another book's, is a 404."""
    listening.bookmark_delete(user=user_of(request), book_uuid=book_uuid, bookmark_uuid=bookmark_uuid)
    return HttpResponse(status=204)
