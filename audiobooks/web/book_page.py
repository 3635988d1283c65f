"""The book page (``/books/<uuid>/``): the player, live progress and downloads; its poll, delete, cancel.

The page is rendered here and enhanced by ``static/js/app.js``, which polls
``book_status`` while the book is read or converted. Every book is fetched
through ``selectors`` (another user's book is a 404).
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST, require_safe

from audiobooks import selectors, services
from audiobooks.errors import ConversionNotCancellable
from audiobooks.models import Book, ConversionChapter
from audiobooks.pipeline import submit
from audiobooks.pipeline.progress import duration_label
from tts_engine.engines.base import EngineError
from tts_engine.registry import get_voice

from .common import user_of
from .library import POLL_SECONDS, BookCard, book_card
from .player import player_bookmarks, player_position_get


def voice_label(voice_key: str) -> str:
    """``Joe (en-US)`` for ``piper:en_US-joe-medium``; the key itself for a voice no longer installed."""
    try:
        voice = get_voice(voice_key)
    except (EngineError, LookupError, ValueError):
        return voice_key
    return f"{voice.display_name} ({voice.language})"


def acx_export_url(book: Book) -> str | None:
    """The ACX export's URL, or None while that view is not installed (its link is then hidden)."""
    try:
        return reverse("audiobooks:book-acx-zip", kwargs={"book_uuid": book.uuid})
    except NoReverseMatch:
        return None


def _chapter_rows(page: selectors.BookPage, book: Book) -> list[dict[str, object]]:
    rows = []
    for conversion_chapter in page.chapters:
        number = conversion_chapter.number
        ready = conversion_chapter.status == ConversionChapter.Status.READY
        rows.append(
            {
                "number": number,
                "title": conversion_chapter.chapter.title,
                "status": conversion_chapter.status,
                "status_label": conversion_chapter.get_status_display(),
                "ready": ready,
                "duration_ms": conversion_chapter.duration_ms,
                "duration": duration_label(conversion_chapter.duration_ms),
                "audio_url": reverse(
                    "audiobooks:book-file", kwargs={"book_uuid": book.uuid, "name": f"mp3/{number:02d}.mp3"}
                )
                if ready
                else None,
                "captions_url": reverse(
                    "audiobooks:book-captions", kwargs={"book_uuid": book.uuid, "number": number}
                )
                if ready
                else None,
            }
        )
    return rows


def _book_status(book: Book, page: selectors.BookPage, card: BookCard) -> dict[str, object]:
    """What the book page's script needs to redraw itself: the book, its conversion, its chapters."""
    conversion, progress = card.conversion, card.progress
    return {
        "book": {
            "uuid": str(book.uuid),
            "status": book.status,
            "error_message": book.error_message,
        },
        "state": card.state,
        "state_label": card.state_label,
        "active": card.active,
        "conversion": None
        if conversion is None
        else {
            "uuid": str(conversion.uuid),
            "status": conversion.status,
            "percent": progress.percent if progress else (100.0 if card.state == "done" else 0.0),
            "eta_seconds": progress.eta_seconds if progress else None,
            "eta": card.eta,
            "chapters_ready": progress.chapters_ready if progress else None,
            "chapters_total": progress.chapters_total if progress else None,
            "error_message": conversion.error_message,
            "duration": card.duration,
        },
        "chapters": _chapter_rows(page, book),
        "m4b_ready": page.m4b_ready,
    }


@login_required
@require_safe
def book_status(request: HttpRequest, book_uuid: UUID) -> JsonResponse:
    """The book's state as JSON, polled every few seconds while it is read or converted."""
    book = selectors.book_get_for_user(user=user_of(request), book_uuid=book_uuid)
    page = selectors.book_page_get(book=book)
    response = JsonResponse(_book_status(book, page, book_card(book, page.conversion)))
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def book_detail(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    user = user_of(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    page = selectors.book_page_get(book=book)
    if page.conversion is None:
        # Nothing to play yet: the next step is reading the book, then choosing chapters and a voice.
        return redirect("audiobooks:book-convert", book_uuid=book.uuid)
    card = book_card(book, page.conversion)
    status = _book_status(book, page, card)
    chapters = status["chapters"]
    assert isinstance(chapters, list)
    meta = [f"{len(chapters)} chapter{'s' if len(chapters) != 1 else ''}"]
    if card.duration:
        meta.append(card.duration)
    voice = voice_label(card.conversion.voice_key) if card.conversion else ""
    if voice:
        meta.append(f"Read by {voice}")
    context = {
        "book": book,
        "card": card,
        "status": status,
        "chapters": chapters,
        "meta": meta,
        "voice_label": voice,
        "has_mp3": page.has_mp3,
        "has_original": page.has_original,
        "acx_url": acx_export_url(book),
        # The read-along EPUB is its MP3s and a little text: its size, to a few kilobytes, in advance.
        "mp3_bytes": selectors.book_mp3s_bytes(book=book) if page.has_mp3 else 0,
        "position": player_position_get(user=user, book_uuid=book.uuid),
        "bookmarks": player_bookmarks(user=user, book_uuid=book.uuid),
        "revisions": selectors.book_revisions_recent(book=book),
        "poll_seconds": POLL_SECONDS,
    }
    response = render(request, "audiobooks/book_detail.html", context)
    patch_cache_control(response, private=True, no_cache=True)
    return response


@login_required
@require_POST
def book_delete(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    user = user_of(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    title = book.display_title
    services.book_delete(user=user, book_uuid=book.uuid)
    messages.success(request, f"Deleted “{title}” and all of its files.")
    return redirect("audiobooks:library")


@login_required
@require_POST
def conversion_cancel(request: HttpRequest, book_uuid: UUID, conversion_uuid: UUID) -> HttpResponse:
    user = user_of(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    try:
        submit.conversion_cancel(user=user, conversion_uuid=conversion_uuid)
    except ConversionNotCancellable as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Conversion cancelled. Credits for the unfinished part were refunded.")
    return redirect("audiobooks:book-detail", book_uuid=book.uuid)
