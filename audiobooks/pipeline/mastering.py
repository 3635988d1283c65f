"""A chapter whose Parts are all rendered: finished here, as its last Part is.

Runs on the light queue as each chapter completes, while later chapters still
render. The Parts are joined and measured, mastered once to ACX levels, and
encoded at once to the chapter's AAC segment (what the M4B is joined from,
by stream copy) and its MP3; the captions follow. The segment is stored
content-addressed (``storage_keys.segment_key``), so a later conversion of the
book made from the same Parts reuses it, with the MP3 and captions, and masters
nothing. The chapter is playable as soon as this ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audiobooks.audio import AudioError
from audiobooks.audio.captions import write_vtt
from audiobooks.audio.concat import shift_timings
from audiobooks.audio.master import head_offset_ms, mastering_gain, measure_loudness
from audiobooks.audio.mp3 import ChapterTags, write_id3
from audiobooks.audio.segment import MASTERING_VERSION, encode_segment
from audiobooks.models import Conversion, ConversionChapter, Part, StoredObject
from audiobooks.storage import backend
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
    """Finish one chapter whose Parts are all done; does nothing for a chapter not waiting for it.

    A chapter made from the same Parts by an earlier conversion of the book
    is reused; any other is mastered once into its AAC segment and MP3.
    """
    conversion_chapter = _claim(conversion_chapter_id)
    if conversion_chapter is None:
        return
    if conversion_chapter.attempts > conf.max_attempts():
        conversion_fail(conversion_id=conversion_chapter.conversion_id, message=ASSEMBLY_FAILED_MESSAGE)
        return
    conversion = conversion_chapter.conversion
    book = conversion.book
    part_keys = chapter_part_keys(conversion_chapter)
    sources = storage_keys.chapter_sources_digest(part_keys=part_keys, mastering_version=MASTERING_VERSION)
    if _reuse(conversion_chapter, sources_digest=sources, workdir=workdir):
        return
    try:
        joined = chapter_join(conversion_chapter=conversion_chapter, target=workdir / "chapter.wav")
    except PartsMissing as lost:
        parts_render_again(conversion_chapter=conversion_chapter, part_ids=lost.part_ids)
        return
    number = conversion_chapter.number
    try:
        gain = mastering_gain(measure_loudness(joined.path))
        segment = encode_segment(
            joined,
            gain_db=gain,
            aac_target=workdir / "chapter.m4a",
            mp3_target=workdir / "chapter.mp3",
            tags=_tags(conversion_chapter, workdir=workdir),
        )
        duration_ms = round(segment.samples * 1000 / segment.sample_rate)
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
    ids = storage_keys.deliverable_ids(conversion)
    segment_key = storage_keys.segment_key(
        user_uuid=ids["user_uuid"],
        book_uuid=ids["book_uuid"],
        digest=storage_keys.segment_digest(
            part_keys=part_keys, gain_db=gain, mastering_version=MASTERING_VERSION
        ),
    )
    with segment.aac.open("rb") as content:
        stored_object_save(
            key=segment_key, content=content, kind=StoredObject.Kind.SEGMENT, owner=book.owner, book=book,
            filename=f"{_prefix(conversion_chapter)}.m4a",
        )  # fmt: skip
    _store_mp3_and_captions(conversion_chapter, mp3=segment.mp3, vtt=vtt)
    _ready(
        conversion_chapter,
        finished=Finished(
            gain_db=gain, duration_ms=duration_ms, samples=segment.samples,
            sources_digest=sources, segment_key=segment_key,
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class Finished:
    """What a ready chapter's row records."""

    gain_db: float
    duration_ms: int
    samples: int
    sources_digest: str
    segment_key: str


def chapter_part_keys(conversion_chapter: ConversionChapter) -> list[str]:
    """The render cache keys of the chapter's Parts, in order: what its audio is made from."""
    return list(
        Part.objects.filter(
            conversion_id=conversion_chapter.conversion_id, chapter_id=conversion_chapter.chapter_id
        )
        .order_by("chapter_part_index")
        .values_list("cache_key", flat=True)
    )


def _prefix(conversion_chapter: ConversionChapter) -> str:
    return f"{conversion_chapter.conversion.book.display_title} - {conversion_chapter.number:02d}"


def _tags(conversion_chapter: ConversionChapter, *, workdir: Path) -> ChapterTags:
    conversion = conversion_chapter.conversion
    book = conversion.book
    return ChapterTags(
        title=conversion_chapter.chapter.title,
        album=book.display_title,
        artist=authors_of(book),
        track=conversion_chapter.number,
        track_total=conversion.selections.count(),
        year=str(conversion.created_at.year),
        cover=book_cover(book=book, workdir=workdir),
    )


def _store_mp3_and_captions(conversion_chapter: ConversionChapter, *, mp3: Path, vtt: Path) -> None:
    conversion = conversion_chapter.conversion
    book, number, prefix = conversion.book, conversion_chapter.number, _prefix(conversion_chapter)
    ids = storage_keys.deliverable_ids(conversion)
    with mp3.open("rb") as content:
        stored_object_save(
            key=storage_keys.mp3_key(**ids, number=number),
            content=content, kind=StoredObject.Kind.MP3, owner=book.owner, book=book,
            filename=f"{prefix} - {conversion_chapter.chapter.title}.mp3",
        )  # fmt: skip
    with vtt.open("rb") as content:
        stored_object_save(
            key=storage_keys.captions_key(**ids, number=number),
            content=content, kind=StoredObject.Kind.VTT, owner=book.owner, book=book,
            filename=f"{prefix}.vtt",
        )  # fmt: skip


def _reuse(conversion_chapter: ConversionChapter, *, sources_digest: str, workdir: Path) -> bool:
    """Finish the chapter from an earlier conversion's chapter made from the same Parts, if one is stored.

    The segment is shared; the MP3 is copied with this conversion's tags and
    the captions as they are. Anything missing means mastering again.
    """
    earlier = (
        ConversionChapter.objects.filter(
            conversion__book_id=conversion_chapter.conversion.book_id,
            sources_digest=sources_digest,
            status=ConversionChapter.Status.READY,
        )
        .exclude(pk=conversion_chapter.pk)
        .exclude(segment_key="")
        .select_related("conversion__book__owner")
        .order_by("-finished_at")
        .first()
    )
    if earlier is None or earlier.gain_db is None or earlier.duration_ms is None or earlier.samples is None:
        return False
    if backend.object_head(earlier.segment_key) is None:
        return False
    ids = storage_keys.deliverable_ids(earlier.conversion)
    mp3, vtt = workdir / "reused.mp3", workdir / "reused.vtt"
    try:
        backend.object_download(storage_keys.mp3_key(**ids, number=earlier.number), mp3)
        backend.object_download(storage_keys.captions_key(**ids, number=earlier.number), vtt)
        write_id3(mp3, _tags(conversion_chapter, workdir=workdir))
    except FileNotFoundError:
        return False
    except AudioError as error:
        logger.warning("conversion %s: chapter %s not reused: %s", conversion_chapter.conversion_id,
                       conversion_chapter.number, error)  # fmt: skip
        return False
    _store_mp3_and_captions(conversion_chapter, mp3=mp3, vtt=vtt)
    _ready(
        conversion_chapter,
        finished=Finished(
            gain_db=earlier.gain_db, duration_ms=earlier.duration_ms, samples=earlier.samples,
            sources_digest=sources_digest, segment_key=earlier.segment_key,
        ),
    )  # fmt: skip
    logger.info("conversion %s: chapter %s reused from conversion %s", conversion_chapter.conversion_id,
                conversion_chapter.number, earlier.conversion_id)  # fmt: skip
    return True


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


def _ready(conversion_chapter: ConversionChapter, *, finished: Finished) -> None:
    """Mark the chapter playable; the book's last chapter sends the book to assembly."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        conversion = Conversion.objects.select_for_update().get(pk=conversion_chapter.conversion_id)
        ready = ConversionChapter.objects.filter(
            pk=conversion_chapter.pk, status=ConversionChapter.Status.MASTERING
        ).update(
            status=ConversionChapter.Status.READY,
            gain_db=finished.gain_db,
            duration_ms=finished.duration_ms,
            samples=finished.samples,
            sources_digest=finished.sources_digest,
            segment_key=finished.segment_key,
            finished_at=now,
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
