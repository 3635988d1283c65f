"""Submitting a conversion, and cancelling it: where a Conversion's life begins, and where a reader ends it.

Submission charges, then records the Conversion, its chosen chapters and
every Part, in one transaction. After it commits, the dispatcher
(``dispatch``) sends Parts to the synthesis queue, a bounded number at a
time, round-robin across running conversions. Cancelling settles the
refund in the same transaction as the status change (``outcomes``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from uuid import UUID

from django.db import IntegrityError, transaction

from accounts.models import User
from audiobooks import availability
from audiobooks.errors import (
    BookNotReady,
    ConversionNotCancellable,
    InvalidIdempotencyKey,
    InvalidSpeed,
    NoChaptersSelected,
    UnknownChapter,
    UnknownVoice,
)
from audiobooks.lexicon.selectors import lexicon_for_book
from audiobooks.lexicon.voicing import PartsLexicon
from audiobooks.models import Book, Chapter, Conversion, ConversionChapter, Part
from audiobooks.selectors import book_get_for_user, conversion_get_for_user, storage_used_bytes
from credits.pricing import format_credits
from credits.ratelimits import Action, check_rate_limit
from credits.selectors import conversion_storage_check
from credits.services import conversion_charge
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN, EngineError
from tts_engine.registry import get_engine, get_voice, split_voice_key
from tts_engine.speech import render_key, validate_speed

from .dispatch import parts_dispatch_safely
from .outcomes import conversion_cancel_and_settle
from .parts import PartText, chapter_parts_keeping

logger = logging.getLogger(__name__)

# Deliverables kept per second of audio: the M4B and the chapter MP3s, both 64 kbps.
DELIVERABLE_BYTES_PER_SECOND = 2 * 64_000 // 8
# Speech at speed 1.0, in characters per second (about 150 words a minute).
SPOKEN_CHARS_PER_SECOND = 15
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def conversion_estimated_bytes(*, characters: int, speed: float) -> int:
    """What a conversion's deliverables will take in storage, to refuse one before charging."""
    return int(characters / (SPOKEN_CHARS_PER_SECOND * speed) * DELIVERABLE_BYTES_PER_SECOND)


def conversion_submit(
    *,
    user: User,
    book_uuid: UUID,
    chapter_indexes: Iterable[int],
    voice_key: str,
    speed: float,
    idempotency_key: str | None = None,
    operator_job: bool = False,
) -> Conversion:
    """Charge for the chosen chapters and record a queued Conversion with its Parts, then dispatch.

    Every check (the book is the user's (else 404) and ready, chapters, voice,
    speed, the rate limit, the storage quota, the balance) runs before
    anything is written. A replay with the same ``idempotency_key`` returns
    the first Conversion, uses no rate-limit slot and charges nothing.
    An ``operator_job`` (``manage.py convert`` without ``--user``) is
    recorded as such and skips the rate limit, the quota and the charge.
    """
    availability.refuse_new_work_in_maintenance()
    key = _idempotency_key_checked(idempotency_key)
    if key and (replayed := _conversion_replayed(user=user, idempotency_key=key)):
        return replayed
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    if book.status != Book.Status.READY:
        raise BookNotReady("This book is not ready to convert yet: it has not been read successfully.")
    chapters = _chapters_chosen(book=book, chapter_indexes=chapter_indexes)
    voice_key = _voice_checked(voice_key)
    try:
        speed = validate_speed(speed)
    except (TypeError, ValueError) as exc:
        raise InvalidSpeed(f"Speed must be a number between {SPEED_MIN} and {SPEED_MAX}.") from exc
    plan = _parts_plan(book=book, chapters=chapters, voice_key=voice_key, speed=speed)
    characters = sum(part.characters for part in plan)
    if not characters:
        raise NoChaptersSelected("The chosen chapters have no text to read aloud.")

    if not operator_job:
        check_rate_limit(request_or_key=str(user.pk), action=Action.CONVERSION)
        conversion_storage_check(
            user=user,
            estimated_bytes=conversion_estimated_bytes(characters=characters, speed=speed),
            storage_used_bytes=storage_used_bytes(user=user),
        )
    conversion_uuid = uuid.uuid4()
    try:
        with transaction.atomic(durable=True):
            charged = 0
            if not operator_job:
                charge = conversion_charge(user=user, conversion_uuid=conversion_uuid, characters=characters)
                charged = -charge.amount
            conversion = Conversion.objects.create(
                uuid=conversion_uuid,
                owner=user,
                book=book,
                voice_key=voice_key,
                speed=speed,
                characters=characters,
                charge_hundredths=charged,
                idempotency_key=key,
                operator_job=operator_job,
            )
            chosen = sorted({part.chapter.pk: part.chapter for part in plan}.values(), key=lambda c: c.index)
            ConversionChapter.objects.bulk_create(
                ConversionChapter(conversion=conversion, chapter=chapter, position=position)
                for position, chapter in enumerate(chosen)
            )
            for part in plan:
                part.conversion = conversion
            Part.objects.bulk_create(plan)
    except IntegrityError:
        # The same key submitted at the same moment: the other submission won
        # and this one's charge rolled back with it.
        if key and (replayed := _conversion_replayed(user=user, idempotency_key=key)):
            return replayed
        raise
    logger.info(
        "conversion %s submitted: %d parts, %d characters, %s credits%s",
        conversion.uuid,
        len(plan),
        characters,
        format_credits(conversion.charge_hundredths),
        " (operator job)" if operator_job else "",
    )
    parts_dispatch_safely()
    return conversion


def _idempotency_key_checked(idempotency_key: str | None) -> str:
    key = (idempotency_key or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidIdempotencyKey(
            f"An idempotency key can be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters long."
        )
    if not key.isprintable():  # NUL and other control characters: PostgreSQL text cannot hold NUL
        raise InvalidIdempotencyKey("An idempotency key cannot contain control characters.")
    return key


def _conversion_replayed(*, user: User, idempotency_key: str) -> Conversion | None:
    return Conversion.objects.filter(owner=user, idempotency_key=idempotency_key).first()


def _chapters_chosen(*, book: Book, chapter_indexes: Iterable[int]) -> list[Chapter]:
    try:
        indexes = sorted({int(index) for index in chapter_indexes})
    except (TypeError, ValueError) as exc:
        raise UnknownChapter("Chapters are chosen by their number in the book.") from exc
    if not indexes:
        raise NoChaptersSelected("Choose at least one chapter to convert.")
    chapters = list(book.chapters.filter(index__in=indexes).order_by("index"))
    if len(chapters) != len(indexes):
        found = {chapter.index for chapter in chapters}
        missing = ", ".join(str(index + 1) for index in indexes if index not in found)
        raise UnknownChapter(f"This book has no chapter {missing}.")
    return chapters


def _voice_checked(voice_key: str) -> str:
    """The voice's key as the registry spells it; lists the catalogue but loads no model."""
    availability.refuse_disabled_voice(voice_key)
    try:
        return get_voice(voice_key).key
    except (EngineError, LookupError, ValueError) as exc:
        raise UnknownVoice(f"There is no voice {voice_key!r}. Please choose one from the list.") from exc


def _parts_plan(
    *,
    book: Book,
    chapters: list[Chapter],
    voice_key: str,
    speed: float,
    texts: Mapping[int, str] | None = None,
    speeds: Mapping[int, float] | None = None,
    kept: Mapping[int, Sequence[PartText]] | None = None,
) -> list[Part]:
    """Unsaved Parts of every chosen chapter, in reading order, with their render-cache keys.

    Each Part holds the lexicon entries that touch its text (and its spoken
    title), and only those are in its key: a new entry for a name re-renders
    the Parts that say it and no other. A revision passes a chapter's edited
    text (``texts``) and its own speed (``speeds``), and the Parts the
    revised audiobook cut each chapter into (``kept``), all by the chapter's
    id: those the text still holds are kept as they were, so an edit changes
    only the Parts it touches.
    """
    texts = texts or {}
    speeds = speeds or {}
    kept = kept or {}
    language = book.language or "en"
    engine, voice_id = split_voice_key(voice_key)
    model_digest = get_engine(engine).model_digest(voice_id)
    lexicon = PartsLexicon(lexicon_for_book(book=book), voice_key=voice_key)
    plan: list[Part] = []
    for chapter in chapters:
        chapter_text = texts.get(chapter.pk) or chapter.text
        chapter_speed = speeds.get(chapter.pk)
        pieces = chapter_parts_keeping(
            text=chapter_text, previous=kept.get(chapter.pk, ()), language=language
        )
        for number, piece in enumerate(pieces):
            title = chapter.title if piece.speaks_title else None
            applied = lexicon.for_text(piece.text, title)
            plan.append(
                Part(
                    chapter=chapter,
                    index=len(plan),
                    chapter_part_index=number,
                    text=piece.text,
                    characters=len(piece.text),
                    speaks_title=piece.speaks_title,
                    ends_paragraph=piece.ends_paragraph,
                    lexicon=[entry.as_dict() for entry in applied],
                    speed=chapter_speed,
                    cache_key=render_key(
                        voice_key=voice_key,
                        model_digest=model_digest,
                        speed=chapter_speed or speed,
                        text=piece.text,
                        title=title,
                        language=language,
                        ends_paragraph=piece.ends_paragraph,
                        lexicon=applied,
                    ),
                )
            )
    return plan


def conversion_cancel(*, user: User, conversion_uuid: UUID) -> Conversion:
    """Stop a conversion that has not finished, and refund what was not rendered, exactly once.

    Parts already done keep their audio. Cancelling a cancelled conversion
    again changes nothing (the refund is recorded under one key); cancelling
    a completed or failed one is refused.
    """
    conversion = conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)
    with transaction.atomic(durable=True):
        conversion_cancel_and_settle(conversion=conversion)
        if conversion.status != Conversion.Status.CANCELLED:
            raise ConversionNotCancellable(
                f"This conversion has already {conversion.get_status_display().lower()}; "
                "there is nothing to cancel."
            )
    parts_dispatch_safely()  # its slots in the broker go to other conversions
    return conversion
