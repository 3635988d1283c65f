"""A chapter whose Parts are all rendered: joined, mastered to ACX levels, stored as MP3 and captions.

Runs on the light queue. The mastering gain is measured once here and kept
on the chapter's row, so the M4B, built later from the same Parts, sounds
exactly like the chapter's MP3. The chapter is playable as soon as this ends,
while the rest of the book still renders.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audiobooks.audio import AudioError
from audiobooks.audio.captions import write_vtt
from audiobooks.audio.concat import shift_timings
from audiobooks.audio.master import (
    head_offset_ms,
    mastered_duration_ms,
    mastering_filter,
    mastering_gain,
    measure_loudness,
)
from audiobooks.audio.mp3 import ChapterTags, encode_mp3
from audiobooks.models import Conversion, ConversionChapter, Part, StoredObject
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import stored_object_save
from ebookvoice import enqueue
from ebookvoice.errors import TransientError

from . import conf
from .dispatch import parts_dispatch_safely
from .outcomes import ASSEMBLY_FAILED_MESSAGE, conversion_fail
from .sources import PartsMissing, authors_of, book_cover, cached_part_key, chapter_join

logger = logging.getLogger(__name__)


def chapter_master(*, conversion_chapter_id: int, workdir: Path) -> None:
    """Master one chapter whose Parts are all done; does nothing for a chapter not waiting for it."""
    conversion_chapter = _claim(conversion_chapter_id)
    if conversion_chapter is None:
        return
    if conversion_chapter.attempts > conf.max_attempts():
        conversion_fail(conversion_id=conversion_chapter.conversion_id, message=ASSEMBLY_FAILED_MESSAGE)
        return
    conversion = conversion_chapter.conversion
    book = conversion.book
    try:
        joined = chapter_join(conversion_chapter=conversion_chapter, target=workdir / "chapter.wav")
    except PartsMissing as lost:
        parts_render_again(conversion_chapter=conversion_chapter, part_ids=lost.part_ids)
        return
    try:
        gain = mastering_gain(measure_loudness(joined.path))
        total = conversion.selections.count()
        number = conversion_chapter.number
        mp3 = encode_mp3(
            joined.path,
            workdir / "chapter.mp3",
            audio_filter=mastering_filter(gain, input_rate=joined.sample_rate),
            tags=ChapterTags(
                title=conversion_chapter.chapter.title,
                album=book.display_title,
                artist=authors_of(book),
                track=number,
                track_total=total,
                year=str(conversion.created_at.year),
                cover=book_cover(book=book, workdir=workdir),
            ),
        )
        duration_ms = mastered_duration_ms(joined)
        vtt = write_vtt(
            workdir / "chapter.vtt",
            shift_timings(joined.sentences, head_offset_ms(joined)),
            duration_ms=duration_ms,
        )
    except AudioError as error:
        if error.retryable:  # the task tries again, within its retries
            raise TransientError(str(error)) from error
        logger.error("chapter %s of conversion %s cannot be mastered: %s", number, conversion.pk, error)
        conversion_fail(conversion_id=conversion.pk, message=ASSEMBLY_FAILED_MESSAGE)
        return
    owner, prefix = book.owner, f"{book.display_title} - {number:02d}"
    ids = storage_keys.deliverable_ids(conversion)
    with mp3.open("rb") as content:
        stored_object_save(
            key=storage_keys.mp3_key(**ids, number=number),
            content=content, kind=StoredObject.Kind.MP3, owner=owner, book=book,
            filename=f"{prefix} - {conversion_chapter.chapter.title}.mp3",
        )  # fmt: skip
    with vtt.open("rb") as content:
        stored_object_save(
            key=storage_keys.captions_key(**ids, number=number),
            content=content, kind=StoredObject.Kind.VTT, owner=owner, book=book, filename=f"{prefix}.vtt",
        )  # fmt: skip
    _ready(conversion_chapter, gain_db=gain, duration_ms=duration_ms)


def _claim(conversion_chapter_id: int) -> ConversionChapter | None:
    with transaction.atomic(durable=True):
        claimed = ConversionChapter.objects.filter(
            pk=conversion_chapter_id, status=ConversionChapter.Status.MASTERING
        ).update(attempts=F("attempts") + 1, sent_at=timezone.now())
        if not claimed:
            return None
        return ConversionChapter.objects.select_related("conversion__book__owner", "chapter").get(
            pk=conversion_chapter_id
        )


def _ready(conversion_chapter: ConversionChapter, *, gain_db: float, duration_ms: int) -> None:
    """Mark the chapter playable; the book's last chapter sends the book to assembly."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        conversion = Conversion.objects.select_for_update().get(pk=conversion_chapter.conversion_id)
        ready = ConversionChapter.objects.filter(
            pk=conversion_chapter.pk, status=ConversionChapter.Status.MASTERING
        ).update(
            status=ConversionChapter.Status.READY, gain_db=gain_db, duration_ms=duration_ms, finished_at=now
        )
        if not ready or conversion.status != Conversion.Status.SYNTHESIZING:
            return
        if conversion.selections.exclude(status=ConversionChapter.Status.READY).exists():
            return
        conversion.status = Conversion.Status.ASSEMBLING
        conversion.assembly_sent_at = now
        conversion.save(update_fields=["status", "assembly_sent_at"])
        enqueue.send_on_commit("audiobooks.assemble_book", conversion.pk)
    logger.info("conversion %s: every chapter is ready; assembling the M4B", conversion.pk)


def parts_render_again(*, conversion_chapter: ConversionChapter, part_ids: list[int]) -> None:
    """Render again the Parts whose cached audio vanished, then master the chapter again."""
    logger.warning("conversion %s: Parts %s vanished from the cache; rendering them again",
                   conversion_chapter.conversion_id, part_ids)  # fmt: skip
    with transaction.atomic(durable=True):
        keys = [
            cached_part_key(key)
            for key in Part.objects.filter(pk__in=part_ids).values_list("cache_key", flat=True)
        ]
        StoredObject.objects.filter(key__in=keys).delete()
        Part.objects.filter(pk__in=part_ids).update(
            status=Part.Status.PENDING, dispatched_at=None, worker="", attempts=0, duration_ms=None,
            sentences=[], finished_at=None,
        )  # fmt: skip
        ConversionChapter.objects.filter(pk=conversion_chapter.pk).update(
            status=ConversionChapter.Status.RENDERING, attempts=0, sent_at=None
        )
    parts_dispatch_safely()
