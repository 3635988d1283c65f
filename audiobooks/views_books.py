"""The reader's pages for books: the library, a new audiobook, the book page, and its live status.

Pages are rendered here and enhanced by ``static/js/app.js``; the status
views answer the JSON that script polls while a book is read or converted.
Every book is fetched through ``selectors`` (another user's book is a 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST, require_safe

from credits.errors import format_bytes
from credits.selectors import credit_balance_get
from tts_engine.engines.base import EngineError
from tts_engine.registry import get_voice

from . import selectors, services
from .errors import ConversionNotCancellable
from .models import Book, Conversion, ConversionChapter
from .pipeline.progress import ConversionProgress, conversion_progress
from .views import _user
from .views_player import player_position_get

POLL_SECONDS = 3


def format_duration(milliseconds: int | None) -> str:
    """``1 h 04 min``, ``12 min``, ``45 s``: how long a recording lasts, as a listener reads it."""
    if milliseconds is None:
        return ""
    seconds = round(milliseconds / 1000)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def format_eta(seconds: int | None) -> str:
    if seconds is None:
        return "Estimating time left…"
    if seconds < 60:
        return "Less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"About {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"About {hours} h {minutes:02d} min left"


def voice_label(voice_key: str) -> str:
    """``Joe (en-US)`` for ``piper:en_US-joe-medium``; the key itself for a voice no longer installed."""
    try:
        voice = get_voice(voice_key)
    except (EngineError, LookupError, ValueError):
        return voice_key
    return f"{voice.name.replace('_', ' ').title()} ({voice.language})"


def acx_export_url(book: Book) -> str | None:
    """The ACX export's URL, or None while that view is not installed (its link is then hidden)."""
    try:
        return reverse("audiobooks:book-acx-zip", kwargs={"book_uuid": book.uuid})
    except NoReverseMatch:
        return None


@dataclass(frozen=True)
class BookCard:
    """One book as the library and the book page show it."""

    book: Book
    conversion: Conversion | None
    progress: ConversionProgress | None

    @property
    def active(self) -> bool:
        return self.book.status in (Book.Status.UPLOADED, Book.Status.INGESTING) or (
            self.conversion is not None and self.conversion.status in Conversion.ACTIVE
        )

    @property
    def state(self) -> str:
        """One word for the badge and the CSS: reading, failed, ready, queued, converting, done…"""
        if self.book.status in (Book.Status.UPLOADED, Book.Status.INGESTING):
            return "reading"
        if self.book.status == Book.Status.FAILED:
            return "unreadable"
        if self.conversion is None:
            return "ready"
        return {
            Conversion.Status.QUEUED: "queued",
            Conversion.Status.SYNTHESIZING: "converting",
            Conversion.Status.ASSEMBLING: "converting",
            Conversion.Status.COMPLETED: "done",
            Conversion.Status.FAILED: "failed",
            Conversion.Status.CANCELLED: "cancelled",
        }[Conversion.Status(self.conversion.status)]

    @property
    def state_label(self) -> str:
        return {
            "reading": "Reading the book",
            "unreadable": "Could not be read",
            "ready": "Ready to convert",
            "queued": "Queued",
            "converting": "Converting",
            "done": "Audiobook ready",
            "failed": "Conversion failed",
            "cancelled": "Cancelled",
        }[self.state]

    @property
    def duration(self) -> str:
        return format_duration(self.conversion.duration_ms if self.conversion else None)

    @property
    def eta(self) -> str:
        return format_eta(self.progress.eta_seconds) if self.progress else ""

    @property
    def authors(self) -> str:
        return ", ".join(str(author) for author in self.book.authors or [])


def _card(book: Book, conversion: Conversion | None) -> BookCard:
    progress = (
        conversion_progress(conversion)
        if conversion is not None and conversion.status in Conversion.ACTIVE
        else None
    )
    return BookCard(book=book, conversion=conversion, progress=progress)


@login_required
@require_safe
def library(request: HttpRequest) -> HttpResponse:
    """Every book of the reader's, newest first; ``?partial=1`` answers the grid alone, for polling."""
    user = _user(request)
    cards = [_card(book, conversion) for book, conversion in selectors.library_for_user(user=user)]
    context = {
        "cards": cards,
        "polling": any(card.active for card in cards),
        "poll_seconds": POLL_SECONDS,
        "balance": credit_balance_get(user=user),
    }
    template = "audiobooks/_library_grid.html" if request.GET.get("partial") else "audiobooks/library.html"
    response = render(request, template, context)
    patch_cache_control(response, private=True, no_cache=True)
    return response


@login_required
@require_safe
def book_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    limit = selectors.upload_limit_bytes(user=user)
    context = {
        "limit_bytes": limit,
        "limit_label": format_bytes(limit),
        "extensions": ".epub,.pdf,.txt,.html,.htm,.xhtml",
    }
    return render(request, "audiobooks/book_new.html", context)


def _chapter_rows(page: selectors.BookPage, book: Book) -> list[dict[str, object]]:
    rows = []
    for selection in page.chapters:
        number = selection.number
        ready = selection.status == ConversionChapter.Status.READY
        rows.append(
            {
                "number": number,
                "title": selection.chapter.title,
                "status": selection.status,
                "status_label": selection.get_status_display(),
                "ready": ready,
                "duration_ms": selection.duration_ms,
                "duration": format_duration(selection.duration_ms),
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
    book = selectors.book_get_for_user(user=_user(request), book_uuid=book_uuid)
    page = selectors.book_page_get(book=book)
    response = JsonResponse(_book_status(book, page, _card(book, page.conversion)))
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def book_detail(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    user = _user(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    page = selectors.book_page_get(book=book)
    if page.conversion is None:
        # Nothing to play yet: the next step is reading the book, then choosing chapters and a voice.
        return redirect("audiobooks:book-convert", book_uuid=book.uuid)
    card = _card(book, page.conversion)
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
        "position": player_position_get(user=user, book_uuid=book.uuid),
        "poll_seconds": POLL_SECONDS,
    }
    response = render(request, "audiobooks/book_detail.html", context)
    patch_cache_control(response, private=True, no_cache=True)
    return response


@login_required
@require_POST
def book_delete(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    user = _user(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    title = book.display_title
    services.book_delete(user=user, book_uuid=book.uuid)
    messages.success(request, f"Deleted “{title}” and all of its files.")
    return redirect("audiobooks:library")


@login_required
@require_POST
def conversion_cancel(request: HttpRequest, book_uuid: UUID, conversion_uuid: UUID) -> HttpResponse:
    user = _user(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    try:
        services.conversion_cancel(user=user, conversion_uuid=conversion_uuid)
    except ConversionNotCancellable as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Conversion cancelled. Credits for the unfinished part were refunded.")
    return redirect("audiobooks:book-detail", book_uuid=book.uuid)
