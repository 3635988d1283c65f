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
rows (``assemble._previous_revision_files_delete``). Not done here: editing a
chapter's text, another speed for one chapter, moving bookmarks, and reverting.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from uuid import UUID

from django.db import IntegrityError, transaction

from accounts.models import User
from audiobooks import availability
from audiobooks.errors import ConversionError
from audiobooks.models import Chapter, Conversion, ConversionChapter, Part
from audiobooks.selectors import conversion_get_for_user, storage_used_bytes
from credits.conf import chars_per_credit
from credits.pricing import format_credits, quote_hundredths
from credits.ratelimits import Action, check_rate_limit
from credits.selectors import conversion_storage_check
from credits.services import conversion_charge

from .dispatch import parts_dispatch_safely
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


@dataclass(frozen=True)
class RevisionQuote:
    """What a revision would render and cost, for the reader to see before confirming."""

    conversion: Conversion
    parts: int
    parts_changed: int
    characters_changed: int
    cost_hundredths: int


def _revision_plan(previous: Conversion) -> tuple[list[Chapter], str, list[Part]]:
    """The revision's chapters, voice and unsaved Parts, each marked ``reused`` or not; or a refusal."""
    if Conversion.objects.filter(book=previous.book, status__in=Conversion.ACTIVE).exists():
        raise RevisionRunning(
            "This audiobook is still being made. Wait until it finishes (or cancel it), then try again."
        )
    selections = previous.selections.select_related("chapter").order_by("position")
    chapters = [selection.chapter for selection in selections]
    voice_key = _voice_checked(previous.voice_key)
    plan = _parts_plan(book=previous.book, chapters=chapters, voice_key=voice_key, speed=previous.speed)
    kept = set(previous.parts.filter(status=Part.Status.DONE).values_list("cache_key", flat=True))
    for part in plan:
        part.reused = part.cache_key in kept
    if all(part.reused for part in plan):
        raise RevisionUnchanged(
            "Nothing would change: every part of this audiobook would sound as it does now."
        )
    return chapters, voice_key, plan


def revision_quote(*, user: User, conversion_uuid: UUID) -> RevisionQuote:
    """What a revision of this audiobook would render and cost; refused as ``conversion_revise`` is."""
    previous = conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)
    _, _, plan = _revision_plan(previous)
    changed = [part for part in plan if not part.reused]
    characters = sum(part.characters for part in changed)
    return RevisionQuote(
        conversion=previous,
        parts=len(plan),
        parts_changed=len(changed),
        characters_changed=characters,
        cost_hundredths=quote_hundredths(characters, chars_per_credit=chars_per_credit()),
    )


def conversion_revise(*, user: User, conversion_uuid: UUID, idempotency_key: str | None = None) -> Conversion:
    """Charge for the Parts that changed and record the revision with every Part, then dispatch.

    Refused with 409 while any conversion of the book is running (a revision
    included), and when nothing would change. A replay with the same
    ``idempotency_key`` returns the first revision and charges nothing.
    """
    availability.refuse_new_work_in_maintenance()
    key = _idempotency_key_checked(idempotency_key)
    if key and (replayed := _conversion_replayed(user=user, idempotency_key=key)):
        return replayed
    previous = conversion_get_for_user(user=user, conversion_uuid=conversion_uuid)
    book = previous.book
    chapters, voice_key, plan = _revision_plan(previous)
    characters = sum(part.characters for part in plan)
    charged = sum(part.characters for part in plan if not part.reused)
    check_rate_limit(request_or_key=str(user.pk), action=Action.CONVERSION)
    conversion_storage_check(
        user=user,
        estimated_bytes=conversion_estimated_bytes(characters=characters, speed=previous.speed),
        storage_used_bytes=storage_used_bytes(user=user),
    )
    revision_uuid = uuid.uuid4()
    try:
        with transaction.atomic(durable=True):
            charge = conversion_charge(user=user, conversion_uuid=revision_uuid, characters=charged)
            revision = Conversion.objects.create(
                uuid=revision_uuid,
                owner=user,
                book=book,
                voice_key=voice_key,
                speed=previous.speed,
                characters=characters,
                reused_characters=characters - charged,
                charge_hundredths=-charge.amount,
                idempotency_key=key,
                revision_of=previous,
            )
            ConversionChapter.objects.bulk_create(
                ConversionChapter(conversion=revision, chapter=chapter, position=position)
                for position, chapter in enumerate(chapters)
            )
            for part in plan:
                part.conversion = revision
            Part.objects.bulk_create(plan)
    except IntegrityError:
        if key and (replayed := _conversion_replayed(user=user, idempotency_key=key)):
            return replayed
        raise
    logger.info(
        "conversion %s revises %s: %d of %d parts to render, %d characters charged, %s credits",
        revision.uuid,
        previous.uuid,
        sum(1 for part in plan if not part.reused),
        len(plan),
        charged,
        format_credits(revision.charge_hundredths),
    )
    parts_dispatch_safely()
    return revision
