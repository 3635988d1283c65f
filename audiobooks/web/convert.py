"""Choosing what to convert: the chapter picker, the voice picker with previews, the quote, and Convert.

The page carries an idempotency key made when it is rendered, so a double
click (or a resubmitted form) starts one conversion and charges once:
``pipeline.submit.conversion_submit`` returns the first Conversion for a key it has
seen. Every refusal is shown on the page itself, with what was chosen kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_safe

from accounts.models import User
from audiobooks import prices, selectors
from audiobooks.models import Book, Chapter
from audiobooks.pipeline import submit
from audiobooks.voices import previews
from billing import selectors as billing_selectors
from credits.selectors import credit_balance_get
from ebookvoice.errors import DomainError
from ebookvoice.inputs import INT_MAX, parse_float, parse_int
from tts_engine.catalogue import default_voice_for
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN
from tts_engine.text import language_warning

from .common import refusal, user_of
from .voices import preview_url

SPEEDS = (0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75)
# A narrator's pace, for the listening-time hint beside each chapter.
WORDS_PER_MINUTE = 155
POLL_SECONDS = 2


@dataclass(frozen=True)
class VoiceChoice:
    key: str
    name: str
    language: str
    quality: str
    licence: str
    non_commercial: bool
    preview_url: str | None
    preview_status: str
    warning: str | None


@dataclass
class PickerItem:
    """One line of the chapter picker: a whole chapter (`row`), or a divided chapter with
    its sections under it (`sections`), which can be ticked together or one by one."""

    group: int
    title: str
    row: dict[str, Any] | None = None
    sections: list[dict[str, Any]] = field(default_factory=list)
    minutes: int = 0

    @property
    def all_checked(self) -> bool:
        return all(row["checked"] for row in self.sections)


def _picker(rows: list[dict[str, Any]]) -> list[PickerItem]:
    items: list[PickerItem] = []
    for row in rows:
        chapter: Chapter = row["chapter"]
        minutes: int = row["minutes"]
        if not chapter.section:
            items.append(PickerItem(group=chapter.group, title=chapter.title, row=row, minutes=minutes))
            continue
        if not items or items[-1].row is not None or items[-1].group != chapter.group:
            items.append(PickerItem(group=chapter.group, title=chapter.group_title or chapter.title))
        items[-1].sections.append(row)
        items[-1].minutes += minutes
    return items


def _voices(book: Book) -> list[VoiceChoice]:
    return [
        VoiceChoice(
            key=listing.voice.key,
            name=listing.voice.display_name,
            language=listing.voice.language,
            quality=listing.voice.quality,
            licence=listing.voice.licence,
            non_commercial=listing.voice.non_commercial,
            preview_url=preview_url(listing.voice.key),
            preview_status=listing.status,
            warning=language_warning(listing.voice.language, book.language) if book.language else None,
        )
        for listing in previews.voices_with_previews()
    ]


def _chapter_indexes(values: list[str]) -> list[int]:
    """The chapter indexes named in ASCII digits within the column's range; anything else names none."""
    indexes = (parse_int(value, low=0, high=INT_MAX) for value in values)
    return sorted({index for index in indexes if index is not None})


def _speed(value: str | None) -> float:
    if not value:
        return 1.0
    speed = parse_float(value, low=SPEED_MIN, high=SPEED_MAX)
    return -1.0 if speed is None else speed  # -1 is refused by conversion_submit with its own message


def _context(
    *, user: User, book: Book, chosen: list[int] | None = None,
    voice_key: str | None = None, speed: float = 1.0, error: str = "",
) -> dict[str, object]:  # fmt: skip
    chapters = selectors.book_chapters(book=book)
    voices = _voices(book) if book.status == Book.Status.READY else []
    voice_key = voice_key or default_voice_for(
        language=book.language, voice_keys_and_languages=[(voice.key, voice.language) for voice in voices]
    )
    preselection_note = None
    balance = credit_balance_get(user=user)
    if chosen is None:
        # The picker never opens on a selection the balance cannot pay for.
        preselection = prices.preselect(
            chapters, balance_hundredths=balance, voice_key=voice_key, speed=speed
        )
        chosen, preselection_note = preselection.chosen, preselection.note
    quote = (
        selectors.book_conversion_quote(
            user=user,
            book_uuid=book.uuid,
            chapter_indexes=chosen,
            voice_key=voice_key,
            speed=speed,
            balance_hundredths=balance,
        )
        if book.status == Book.Status.READY
        else None
    )
    ticked = set(chosen)
    rows = [
        {
            "chapter": chapter,
            "checked": chapter.index in ticked,
            "minutes": max(1, round(chapter.words / WORDS_PER_MINUTE / (speed if speed > 0 else 1.0))),
        }
        for chapter in chapters
    ]
    picker = _picker(rows)
    words = sum(chapter.words for chapter in chapters)
    meta: list[str] = []
    if chapters:
        count = f"{len(picker):,} chapter{'s' if len(picker) != 1 else ''}"
        if len(picker) != len(chapters):  # divided chapters: their sections are chosen one by one
            count += f", {len(chapters):,} to choose from"
        meta = [count, f"{words:,} words"]
        if book.language:
            meta.append(f"Language: {book.language}")
    return {
        "book": book,
        "meta": meta,
        "authors": book.authors_text,
        "rows": rows,
        "picker": picker,
        "included_count": sum(1 for row in rows if row["checked"]),
        "voices": voices,
        "voice_key": voice_key,
        "speeds": SPEEDS,
        "speed": speed,
        "quote": quote,
        "preselection_note": preselection_note,
        "error": error,
        "idempotency_key": uuid.uuid4().hex,
        "poll_seconds": POLL_SECONDS,
        "top_up": billing_selectors.top_up_offer(
            shortfall_hundredths=quote.shortfall.hundredths if quote else 0
        ),
    }


@login_required
@require_http_methods(["GET", "POST"])
def book_convert(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    """GET: the picker (or "reading your book" while ingestion runs); POST: start the conversion."""
    user = user_of(request)
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    if request.method == "GET":
        response = render(request, "audiobooks/book_convert.html", _context(user=user, book=book))
        patch_cache_control(response, private=True, no_cache=True)
        return response
    chosen = _chapter_indexes(request.POST.getlist("chapter"))
    voice_key = request.POST.get("voice", "")
    speed = _speed(request.POST.get("speed"))
    try:
        conversion = submit.conversion_submit(
            user=user,
            book_uuid=book.uuid,
            chapter_indexes=chosen,
            voice_key=voice_key,
            speed=speed,
            idempotency_key=request.POST.get("idempotency_key", ""),
        )
    except DomainError as error:
        context = _context(
            user=user, book=book, chosen=chosen, voice_key=voice_key or None,
            speed=speed if speed > 0 else 1.0, error=error.message,
        )  # fmt: skip
        return refusal(request, error, template="audiobooks/book_convert.html", context=context)
    messages.success(
        request,
        f"Converting {len(chosen)} chapter{'s' if len(chosen) != 1 else ''}. "
        "Chapters play here as soon as each is ready.",
    )
    return redirect("audiobooks:book-detail", book_uuid=conversion.book.uuid)


@login_required
@require_safe
def book_quote(request: HttpRequest, book_uuid: UUID) -> JsonResponse:
    """``?chapter=0&chapter=2&voice=…&speed=…``: the credits it would cost, the balance, the language warning.

    Amounts come as the page shows them (``"0.07"``, ``"credits"``, ``"2 h 50 min"``) and in hundredths.
    """
    user = user_of(request)
    speed = _speed(request.GET.get("speed"))
    quote = selectors.book_conversion_quote(
        user=user,
        book_uuid=book_uuid,
        chapter_indexes=_chapter_indexes(request.GET.getlist("chapter")),
        voice_key=request.GET.get("voice", ""),
        speed=speed if speed > 0 else 1.0,
    )
    cost, balance, shortfall = quote.cost, quote.balance, quote.shortfall
    response = JsonResponse(
        {
            "characters": quote.characters,
            "audio": prices.format_duration(quote.audio_seconds),
            "credits": cost.credits,
            "credits_noun": cost.noun,
            "credits_hundredths": cost.hundredths,
            "balance": balance.credits,
            "balance_noun": balance.noun,
            "balance_hundredths": balance.hundredths,
            "balance_audio": balance.audio,
            "affordable": quote.affordable,
            "shortfall": shortfall.credits,
            "shortfall_noun": shortfall.noun,
            "shortfall_hundredths": shortfall.hundredths,
            "language_warning": quote.language_warning,
        }
    )
    patch_cache_control(response, private=True, no_store=True)
    return response
