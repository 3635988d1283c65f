"""The player's helpers: captions served from this site, and the listening position per reader and book.

Captions come through Django rather than a redirect to storage: a ``<track>``
element loads them in CORS mode, which a redirect to another origin (S3, R2)
would refuse; they are a few kilobytes. The position is kept in the cache
(Redis, shared by every web process) under the reader's and the book's ids,
so it follows the reader from one browser to another.
"""

from __future__ import annotations

import math
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_safe

from accounts.models import User

from . import selectors
from .storage import backend
from .views import _user

# Long enough to come back to a book after a holiday; the row-less cache is the trade-off.
POSITION_TTL_SECONDS = 400 * 24 * 3600


def _position_key(user: User, book_uuid: UUID) -> str:
    return f"player-position:{user.uuid}:{book_uuid}"


def player_position_get(*, user: User, book_uuid: UUID) -> dict[str, float | int] | None:
    value = cache.get(_position_key(user, book_uuid))
    return value if isinstance(value, dict) else None


@login_required
@require_safe
def book_captions(request: HttpRequest, book_uuid: UUID, number: int) -> StreamingHttpResponse:
    """A ready chapter's WebVTT captions, from this origin; 404 for another's book or a chapter not ready."""
    _book, stored = selectors.book_file_get_for_user(
        user=_user(request), book_uuid=book_uuid, name=f"captions/{number:02d}.vtt"
    )
    response = StreamingHttpResponse(
        backend.object_chunks(stored.key), content_type="text/vtt; charset=utf-8"
    )
    patch_cache_control(response, private=True, max_age=300)
    return response


def _position_refused(message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": "invalid_position", "message": message}}, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def book_position(request: HttpRequest, book_uuid: UUID) -> JsonResponse:
    """``GET``: ``{"chapter", "seconds"}`` or ``{}``; ``POST`` (form: chapter, seconds): remember them."""
    user = _user(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    if request.method == "POST":
        try:
            chapter = int(request.POST.get("chapter", ""))
            seconds = float(request.POST.get("seconds", ""))
        except ValueError:
            return _position_refused("Send the chapter number and the seconds into it.")
        if not 1 <= chapter <= book.chapters.count() or not math.isfinite(seconds) or seconds < 0:
            return _position_refused("The chapter counts from 1 to the book's last, and the seconds from 0.")
        value = {"chapter": chapter, "seconds": round(seconds, 1)}
        cache.set(_position_key(user, book.uuid), value, timeout=POSITION_TTL_SECONDS)
        response = JsonResponse(value)
    else:
        response = JsonResponse(player_position_get(user=user, book_uuid=book.uuid) or {})
    patch_cache_control(response, private=True, no_store=True)
    return response
