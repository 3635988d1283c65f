"""A new revision of an audiobook: its chapters, voice and speed again, said with the lexicon as it is now.

Each Part's cache key holds the lexicon entries that touch its text
(``submit._parts_plan``), so after a fix only the Parts that say the word get
a new key. Parts whose key a done Part of the revised audiobook had are
*reused*: not charged, and (through the render cache and the content-addressed
chapter segments) not rendered or mastered again; one whose audio vanished
anyway is rendered again, still free. The charge is for the characters of the
other Parts alone, and a refund after a cancel or failure counts only those.

The revision is a new Conversion of the same book (``revision_of`` the one
revised), so the previous audiobook's files stay where they are, downloadable,
while it runs. The current audiobook's Parts outlive the render cache's purge
(``selectors.part_keys_in_use``), so a revision days later still reuses them.
When it completes, the audiobook it revised loses its files and keeps its
rows (``assemble._previous_revision_files_delete``), and listening places and
bookmarks in the chapters that changed move to the same sentence
(``places``).

A revision can also edit chapters (``edits``: a chapter's text, cleaned and
limited as ingestion's; its own speed), which re-cuts those chapters into
Parts: a Part whose text, speed and entries are as before keeps its key and is
reused. Edits carry over to later revisions (``ConversionChapter.text`` and
``speed``). Or it can go back to an earlier completed revision (``revert_to``):
its Parts again, as they were said then, free where the render cache still
holds them and charged as new ones where it does not. Each revision records
what it changed (``Conversion.changes``), for the book's history.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audiobooks import availability
from audiobooks.errors import ConversionError
from audiobooks.models import Chapter, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.selectors import conversion_get_for_user, storage_used_bytes
from credits.conf import chars_per_credit
from credits.pricing import format_credits, quote_hundredths
from credits.ratelimits import Action, check_rate_limit
from credits.selectors import conversion_storage_check
from credits.services import conversion_charge

from .dispatch import parts_dispatch_safely
from .edits import ChapterEdit, ChapterEditInvalid, ChapterState, chapter_states_edited
from .parts import PartText
from .sources import cached_part_key
from .submit import (
    _conversion_replayed,
    _idempotency_key_checked,
    _parts_plan,
    _voice_checked,
    conversion_estimated_bytes,
)

logger = logging.getLogger(__name__)


class RevisionRunning(ConversionError):
    code = "revision_running"
    http_status = 409


class RevisionUnchanged(ConversionError):
    code = "revision_unchanged"
    http_status = 409


class NoAudiobookYet(ConversionError):
    code = "no_audiobook"
    http_status = 409


class RevisionTargetUnknown(ConversionError):
    code = "revision_target_unknown"
    http_status = 404


class RevisionTargetUnfinished(ConversionError):
    code = "revision_target_unfinished"
    http_status = 409


@dataclass(frozen=True)
class RevisionQuote:
    """What a revision would render and cost, for the reader to see before confirming."""

    conversion: Conversion
    parts: int
    parts_changed: int
    characters_changed: int
    cost_hundredths: int
    changes: list[str]

    @property
    def parts_reused(self) -> int:
        return self.parts - self.parts_changed


@dataclass(frozen=True)
class RevisionPlan:
    """A revision before it is written: chapters in order with their state, voice, speed, unsaved Parts."""

    chapters: list[tuple[Chapter, ChapterState]]
    voice_key: str
    speed: float
    parts: list[Part]
    changes: list[str]


def _revision_plan(
    previous: Conversion, *, edits: Sequence[ChapterEdit] = (), revert_to: UUID | None = None
) -> RevisionPlan:
    """The revision's chapters, voice and unsaved Parts, each marked ``reused`` or not; or a refusal."""
    if edits and revert_to is not None:
        raise ChapterEditInvalid("Either edit chapters or go back to an earlier revision, not both at once.")
    if Conversion.objects.filter(book=previous.book, status__in=Conversion.ACTIVE).exists():
        raise RevisionRunning(
            "This audiobook is still being made. Wait until it finishes (or cancel it), then try again."
        )
    if revert_to is not None:
        return _revert_plan(previous, revert_to=revert_to)
    selections = list(previous.selections.select_related("chapter").order_by("position"))
    states, texts_edited, speeds_edited = chapter_states_edited(
        selections=selections, edits=edits, speed=previous.speed
    )
    chapters = [selection.chapter for selection in selections]
    voice_key = _voice_checked(previous.voice_key)
    plan = _parts_plan(
        book=previous.book,
        chapters=chapters,
        voice_key=voice_key,
        speed=previous.speed,
        texts={pk: state.text for pk, state in states.items() if state.text},
        speeds={pk: state.speed for pk, state in states.items() if state.speed is not None},
        kept=_cuts_of(previous),
    )
    kept = set(previous.parts.filter(status=Part.Status.DONE).values_list("cache_key", flat=True))
    for part in plan:
        part.reused = part.cache_key in kept
    if all(part.reused for part in plan):
        raise RevisionUnchanged(
            "Nothing would change: every part of this audiobook would sound as it does now."
        )
    changes = []
    for number, chapter in enumerate(chapters, start=1):
        said = f"Chapter {number} ({chapter.title})"
        if chapter.pk in texts_edited:
            changes.append(f"{said}: text edited")
        if chapter.pk in speeds_edited:
            changes.append(f"{said}: speed {states[chapter.pk].speed or previous.speed:g}×")
        if chapter.pk not in texts_edited | speeds_edited:
            ours = [part for part in plan if part.chapter_id == chapter.pk]
            if changed := sum(1 for part in ours if not part.reused):
                changes.append(f"{said}: pronunciation, {changed} of {len(ours)} parts")
    return RevisionPlan(
        chapters=[(chapter, states[chapter.pk]) for chapter in chapters],
        voice_key=voice_key,
        speed=previous.speed,
        parts=plan,
        changes=changes,
    )


def _cuts_of(previous: Conversion) -> dict[int, list[PartText]]:
    """How the revised audiobook cut each chapter into Parts, by chapter id, in order."""
    cuts: dict[int, list[PartText]] = {}
    rows = previous.parts.order_by("chapter_id", "chapter_part_index").values_list(
        "chapter_id", "text", "speaks_title", "ends_paragraph"
    )
    for chapter_id, text, speaks_title, ends_paragraph in rows:
        cuts.setdefault(chapter_id, []).append(PartText(text, speaks_title, ends_paragraph))
    return cuts


def _revert_plan(previous: Conversion, *, revert_to: UUID) -> RevisionPlan:
    """The earlier revision's chapters and Parts again, as they were said then (its lexicon, texts, speeds).

    Its Parts still in the render cache are reused, free; the others are
    rendered again and charged as any Part is.
    """
    target = (
        Conversion.objects.filter(book=previous.book, owner=previous.owner, uuid=revert_to)
        .select_related("book")
        .first()
    )
    if target is None:
        raise RevisionTargetUnknown("This audiobook has no such revision to go back to.")
    if target.status != Conversion.Status.COMPLETED:
        raise RevisionTargetUnfinished(
            f"That revision {target.get_status_display().lower()} before it was finished, "
            "so there is nothing to go back to. Choose a completed one."
        )
    voice_key = _voice_checked(target.voice_key)
    selections = list(target.selections.select_related("chapter").order_by("position"))
    theirs = list(target.parts.order_by("index"))
    current = list(previous.parts.order_by("index").values_list("cache_key", flat=True))
    if [part.cache_key for part in theirs] == current:
        raise RevisionUnchanged("Nothing would change: this audiobook already sounds as that revision did.")
    stored = set(
        StoredObject.objects.filter(key__in=[cached_part_key(part.cache_key) for part in theirs]).values_list(
            "key", flat=True
        )
    )
    plan = [
        Part(
            chapter_id=part.chapter_id,
            index=part.index,
            chapter_part_index=part.chapter_part_index,
            text=part.text,
            characters=part.characters,
            speaks_title=part.speaks_title,
            ends_paragraph=part.ends_paragraph,
            lexicon=part.lexicon,
            speed=part.speed,
            cache_key=part.cache_key,
            reused=cached_part_key(part.cache_key) in stored,
        )
        for part in theirs
    ]
    made = timezone.localtime(target.created_at).strftime("%Y-%m-%d %H:%M")
    return RevisionPlan(
        chapters=[
            (selection.chapter, ChapterState(selection.text, selection.speed)) for selection in selections
        ],
        voice_key=voice_key,
        speed=target.speed,
        parts=plan,
        changes=[f"Back to the revision of {made}"],
    )


def revision_quote(
    *,
    user: User,
    conversion_uuid: UUID,
    edits: Sequence[ChapterEdit] = (),
    revert_to: UUID | None = None,
) -> RevisionQuote:
    """What a revision of this audiobook would render and cost; refused as ``conversion_revise`` is."""
    previous = conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)
    plan = _revision_plan(previous, edits=edits, revert_to=revert_to)
    changed = [part for part in plan.parts if not part.reused]
    characters = sum(part.characters for part in changed)
    return RevisionQuote(
        conversion=previous,
        parts=len(plan.parts),
        parts_changed=len(changed),
        characters_changed=characters,
        cost_hundredths=quote_hundredths(characters, chars_per_credit=chars_per_credit()),
        changes=plan.changes,
    )


def conversion_revise(
    *,
    user: User,
    conversion_uuid: UUID,
    edits: Sequence[ChapterEdit] = (),
    revert_to: UUID | None = None,
    idempotency_key: str | None = None,
) -> Conversion:
    """Charge for the Parts that changed and record the revision with every Part, then dispatch.

    With no ``edits``, the audiobook is made again with today's lexicon; with
    them, those chapters' text or speed change too; with ``revert_to``, it
    becomes that earlier revision again. Refused with 409 while any
    conversion of the book is running (a revision included), and when
    nothing would change. A replay with the same ``idempotency_key`` returns
    the first revision and charges nothing.
    """
    availability.refuse_new_work_in_maintenance()
    key = _idempotency_key_checked(idempotency_key)
    if key and (replayed := _conversion_replayed(user=user, idempotency_key=key)):
        return replayed
    previous = conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)
    book = previous.book
    plan = _revision_plan(previous, edits=edits, revert_to=revert_to)
    characters = sum(part.characters for part in plan.parts)
    charged = sum(part.characters for part in plan.parts if not part.reused)
    check_rate_limit(request_or_key=str(user.pk), action=Action.CONVERSION)
    conversion_storage_check(
        user=user,
        estimated_bytes=conversion_estimated_bytes(characters=characters, speed=plan.speed),
        storage_used_bytes=storage_used_bytes(user=user),
    )
    revision_uuid = uuid.uuid4()
    try:
        with transaction.atomic(durable=True):
            # Going back to Parts all still stored renders nothing and is free: no charge to record.
            charge_hundredths = (
                -conversion_charge(user=user, conversion_uuid=revision_uuid, characters=charged).amount
                if charged
                else 0
            )
            revision = Conversion.objects.create(
                uuid=revision_uuid,
                owner=user,
                book=book,
                voice_key=plan.voice_key,
                speed=plan.speed,
                characters=characters,
                reused_characters=characters - charged,
                charge_hundredths=charge_hundredths,
                idempotency_key=key,
                revision_of=previous,
                changes=plan.changes,
            )
            ConversionChapter.objects.bulk_create(
                ConversionChapter(
                    conversion=revision,
                    chapter=chapter,
                    position=position,
                    text=state.text,
                    speed=state.speed,
                )
                for position, (chapter, state) in enumerate(plan.chapters)
            )
            for part in plan.parts:
                part.conversion = revision
            Part.objects.bulk_create(plan.parts)
    except IntegrityError:
        if key and (replayed := _conversion_replayed(user=user, idempotency_key=key)):
            return replayed
        raise
    logger.info(
        "conversion %s revises %s: %d of %d parts to render, %d characters charged, %s credits",
        revision.uuid,
        previous.uuid,
        sum(1 for part in plan.parts if not part.reused),
        len(plan.parts),
        charged,
        format_credits(revision.charge_hundredths),
    )
    parts_dispatch_safely()
    return revision
