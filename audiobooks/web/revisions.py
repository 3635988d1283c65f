"""A book's "Edit and history" page (``/books/<uuid>/revisions``): edit a chapter, see the price, go back.

A chapter's text or speed is edited here, quoted (the Parts re-rendered and
their price; reused Parts are free) and made only once the reader confirms;
the history lists every revision with what it changed, and a completed one
can be gone back to, quoted the same way. Everything is done by
``pipeline.revisions``; a refusal is this page again with its message.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods

from audiobooks import selectors
from audiobooks.errors import InvalidSpeed
from audiobooks.models import Book, ConversionChapter
from audiobooks.pipeline.edits import ChapterEdit, ChapterNotInAudiobook
from audiobooks.pipeline.revisions import (
    NoAudiobookYet,
    RevisionQuote,
    RevisionRunning,
    RevisionTargetUnknown,
    conversion_revise,
    revision_quote,
)
from credits.pricing import format_credits
from ebookvoice.errors import DomainError
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN

from .common import refusal, user_of

TEMPLATE = "audiobooks/book_revisions.html"


def _chosen(history: selectors.RevisionHistory, number: str | None) -> ConversionChapter | None:
    try:
        wanted = int(number or 1)
    except ValueError:
        wanted = 1
    return next(
        (c for c in history.chapters if c.number == wanted), history.chapters[0] if history.chapters else None
    )


def _context(
    book: Book, history: selectors.RevisionHistory, chapter: ConversionChapter | None
) -> dict[str, Any]:
    current = history.current
    return {
        "book": book,
        "history": history,
        "chapter": chapter,
        "chapter_text": (chapter.text or chapter.chapter.text) if chapter is not None else "",
        "chapter_speed": (chapter.speed or current.speed)
        if chapter is not None and current is not None
        else 1.0,
        "speed_min": SPEED_MIN,
        "speed_max": SPEED_MAX,
    }


def _edit_asked(form: QueryDict, chapter: ConversionChapter | None, current_speed: float) -> ChapterEdit:
    """The chapter's edit as posted: only what differs from what it is now (a form posts every field)."""
    if chapter is None or str(chapter.number) != form.get("chapter", ""):
        raise ChapterNotInAudiobook(f"This audiobook has no chapter {form.get('chapter', '')[:20]}.")
    posted = form.get("text")
    now = chapter.text or chapter.chapter.text
    text = None if posted is None or posted.replace("\r\n", "\n").strip() == now.strip() else posted
    try:
        speed: float | None = float(form.get("speed", "") or (chapter.speed or current_speed))
    except ValueError as exc:
        raise InvalidSpeed(
            f"A chapter's speed must be a number between {SPEED_MIN} and {SPEED_MAX}."
        ) from exc
    if speed == (chapter.speed or current_speed):
        speed = None
    return ChapterEdit(number=chapter.number, text=text, speed=speed)


def _revert_asked(form: QueryDict) -> UUID:
    try:
        return UUID(form.get("revert_to", ""))
    except ValueError as exc:
        raise RevisionTargetUnknown("This audiobook has no such revision to go back to.") from exc


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def book_revisions_page(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    """The page; a POST quotes an edit or a revert (quote, revert-quote) or makes it (confirm, revert)."""
    user = user_of(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    history = selectors.revision_history(book=book)
    source = request.POST if request.method == "POST" else request.GET
    chapter = _chosen(history, source.get("chapter"))
    context = _context(book, history, chapter)
    if request.method != "POST":
        response = render(request, TEMPLATE, context)
        patch_cache_control(response, private=True, no_cache=True)
        return response
    action = request.POST.get("action", "")
    reverting = action.startswith("revert")
    try:
        if history.current is None:
            if history.running:
                raise RevisionRunning(
                    "This audiobook is still being made. Wait until it finishes (or cancel it), "
                    "then try again."
                )
            raise NoAudiobookYet("Convert this book first; then its chapters can be edited here.")
        asked: dict[str, Any] = (
            {"revert_to": _revert_asked(request.POST)}
            if reverting
            else {"edits": [_edit_asked(request.POST, chapter, history.current.speed)]}
        )
        if action in ("confirm", "revert"):
            revision = conversion_revise(user=user, conversion_uuid=history.current.uuid, **asked)
            messages.success(
                request,
                f"Making your audiobook again: {'; '.join(revision.changes)}. Charged "
                f"{format_credits(revision.charge_hundredths)} credits; "
                "the current one plays until it is done.",
            )
            return redirect("audiobooks:book-detail", book_uuid=book.uuid)
        quote: RevisionQuote = revision_quote(user=user, conversion_uuid=history.current.uuid, **asked)
    except DomainError as error:
        return refusal(request, error, template=TEMPLATE, context={**context, "form": request.POST})
    context.update(
        {
            "quote": quote,
            "revert_to": asked.get("revert_to"),
            "form": request.POST,
        }
    )
    response = render(request, TEMPLATE, context)
    patch_cache_control(response, private=True, no_store=True)
    return response
