"""The reader's library (``/books/``) and the page to add a book (``/books/new``).

The library is redrawn every few seconds while something runs
(``?partial=1`` answers the grid alone); ``BookCard`` is how it, and the
book page, show one book's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from audiobooks import selectors
from audiobooks.models import Book, Conversion
from audiobooks.pipeline.progress import ConversionProgress, conversion_progress, duration_label, eta_label
from credits.errors import format_bytes
from credits.selectors import credit_balance_get

from .common import user_of

POLL_SECONDS = 3


@dataclass(frozen=True)
class BookCard:
    """One book as the library and the book page show it."""

    book: Book
    conversion: Conversion | None
    progress: ConversionProgress | None
    listened: float | None = None  # share heard, 0 to 1 (library only)
    listened_at: datetime | None = None

    @property
    def listened_percent(self) -> int | None:
        return None if self.listened is None else round(self.listened * 100)

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
        return duration_label(self.conversion.duration_ms if self.conversion else None)

    @property
    def eta(self) -> str:
        return eta_label(self.progress.eta_seconds) if self.progress else ""

    @property
    def authors(self) -> str:
        return self.book.authors_text


def book_card(
    book: Book,
    conversion: Conversion | None,
    *,
    listened: float | None = None,
    listened_at: datetime | None = None,
) -> BookCard:
    progress = (
        conversion_progress(conversion)
        if conversion is not None and conversion.status in Conversion.ACTIVE
        else None
    )
    return BookCard(
        book=book, conversion=conversion, progress=progress, listened=listened, listened_at=listened_at
    )


# "Continue listening" shows this many books, the ones listened to last and not yet finished.
CONTINUE_COUNT = 3
FINISHED_SHARE = 0.99
VIEWS = ("grid", "list")


def continue_listening(cards: list[BookCard]) -> list[BookCard]:
    started = [
        card for card in cards if card.listened_at is not None and (card.listened or 0) < FINISHED_SHARE
    ]
    started.sort(key=lambda card: card.listened_at or datetime.min, reverse=True)
    return started[:CONTINUE_COUNT]


@login_required
@require_safe
def library(request: HttpRequest) -> HttpResponse:
    """The reader's books: ``?q=`` searches title and author, ``?sort=`` is recent, title or author,
    ``?view=`` grid or list; ``?partial=1`` answers the grid alone, for polling."""
    user = user_of(request)
    q = request.GET.get("q", "")[:200]
    sort = request.GET.get("sort", "recent")
    sort = sort if sort in selectors.LIBRARY_SORTS else "recent"
    view = request.GET.get("view", "grid")
    view = view if view in VIEWS else "grid"
    cards = [
        book_card(row.book, row.conversion, listened=row.listened, listened_at=row.listened_at)
        for row in selectors.library_for_user(user=user, q=q, sort=sort)
    ]
    query = urlencode({key: value for key, value in (("q", q), ("sort", sort), ("view", view)) if value})
    context = {
        "cards": cards,
        "continue_cards": [] if q else continue_listening(cards),
        "q": q,
        "sort": sort,
        "view": view,
        "sorts": [("recent", "Recently added"), ("title", "Title"), ("author", "Author")],
        "query": query,
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
    user = user_of(request)
    limit = selectors.upload_limit_bytes(user=user)
    context = {
        "limit_bytes": limit,
        "limit_label": format_bytes(limit),
        "extensions": ".epub,.pdf,.txt,.html,.htm,.xhtml",
    }
    return render(request, "audiobooks/book_new.html", context)
