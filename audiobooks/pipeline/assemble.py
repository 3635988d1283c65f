"""The M4B: the ready chapters' AAC segments joined by stream copy, with chapter atoms, cover and tags.

Runs on the light queue once the last chapter is ready. Each chapter was
mastered and encoded once, as it finished (``mastering``), so nothing here
decodes or encodes audio: the work after the last chapter is a download and a
copy. One lossy encode stays between the voice and the listener. The chapter
atoms are the segments' exact sample counts (``audio.m4b.join_segments``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from mutagen import MutagenError
from mutagen.mp4 import MP4

from audiobooks.audio import AudioError
from audiobooks.audio.m4b import BookTags, SegmentFile, join_segments
from audiobooks.audio.segment import AAC_PRIMING_SAMPLES
from audiobooks.models import Book, Conversion, ConversionChapter, StoredObject
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import objects_delete_after_commit, stored_object_save
from ebookvoice import enqueue
from ebookvoice.errors import TransientError
from tts_engine.engines.base import EngineError
from tts_engine.registry import get_voice

from . import conf
from .outcomes import ASSEMBLY_FAILED_MESSAGE, conversion_fail
from .places import places_follow_revision
from .sources import authors_of, book_cover

logger = logging.getLogger(__name__)


def narrator_of(voice_key: str) -> str:
    try:
        return get_voice(voice_key).display_name
    except (EngineError, LookupError, ValueError):
        return voice_key  # the voice was removed since; its key still says who read


def conversion_assemble(*, conversion_id: int, workdir: Path) -> None:
    """Join the ready chapters' AAC segments into the M4B, store it, and complete the conversion.

    Only the segments and the cover are downloaded; ffmpeg copies the audio
    and decodes and encodes nothing. A chapter whose segment is gone is
    mastered again, then the book is assembled again.
    """
    conversion = _claim(conversion_id)
    if conversion is None:
        return
    if conversion.assembly_attempts > conf.max_attempts():
        conversion_fail(conversion_id=conversion_id, message=ASSEMBLY_FAILED_MESSAGE)
        return
    book = conversion.book
    segments: list[SegmentFile] = []
    for conversion_chapter in conversion.selections.select_related("chapter").order_by("position"):
        path = workdir / f"{conversion_chapter.number:04d}.m4a"
        try:
            if not conversion_chapter.segment_key or conversion_chapter.samples is None:
                raise FileNotFoundError(conversion_chapter.segment_key)  # mastered before segments were kept
            backend.object_download(conversion_chapter.segment_key, path)
        except FileNotFoundError:
            _remaster(conversion, conversion_chapter)
            return
        segments.append(
            SegmentFile(path=path, title=conversion_chapter.chapter.title, samples=conversion_chapter.samples,
                        sample_rate=0)
        )  # fmt: skip
    try:
        segments = [replace(segment, sample_rate=_sample_rate(segment.path)) for segment in segments]
        tags = BookTags(
            title=book.display_title,
            author=authors_of(book),
            narrator=narrator_of(conversion.voice_key),
            year=str(conversion.created_at.year),
            cover=book_cover(book=book, workdir=workdir),
        )
        m4b = join_segments(segments, workdir / "book.m4b", tags=tags, priming=AAC_PRIMING_SAMPLES)
    except AudioError as error:
        if error.retryable:  # the task tries again, within its retries
            raise TransientError(str(error)) from error
        logger.error("conversion %s: the M4B cannot be built: %s", conversion_id, error)
        conversion_fail(conversion_id=conversion_id, message=ASSEMBLY_FAILED_MESSAGE)
        return
    with m4b.path.open("rb") as content:
        stored_object_save(
            key=storage_keys.m4b_key(**storage_keys.deliverable_ids(conversion)),
            content=content,
            kind=StoredObject.Kind.M4B,
            owner=book.owner,
            book=book,
            filename=f"{book.display_title}.m4b",
        )
    _complete(conversion_id, duration_ms=m4b.duration_ms)


def _sample_rate(path: Path) -> int:
    """The segment's sample rate, from its MP4 header (mutagen reads only the boxes)."""
    try:
        info = MP4(str(path)).info
    except (OSError, MutagenError) as error:
        raise AudioError("Could not read a chapter's audio.", retryable=False) from error
    if info is None or not info.sample_rate:
        raise AudioError("Could not read a chapter's audio.", retryable=False)
    return int(info.sample_rate)


def _claim(conversion_id: int) -> Conversion | None:
    with transaction.atomic(durable=True):
        claimed = Conversion.objects.filter(pk=conversion_id, status=Conversion.Status.ASSEMBLING).update(
            assembly_attempts=F("assembly_attempts") + 1, assembly_sent_at=timezone.now()
        )
        if not claimed:
            return None
        return Conversion.objects.select_related("book__owner").get(pk=conversion_id)


def _remaster(conversion: Conversion, conversion_chapter: ConversionChapter) -> None:
    """A chapter's segment is gone (deleted by hand, lost): master that chapter again, then assemble again."""
    logger.warning("conversion %s: chapter %s has no stored segment; mastering it again",
                   conversion.pk, conversion_chapter.number)  # fmt: skip
    with transaction.atomic(durable=True):
        reopened = Conversion.objects.filter(pk=conversion.pk, status=Conversion.Status.ASSEMBLING).update(
            status=Conversion.Status.SYNTHESIZING, assembly_sent_at=None
        )
        if not reopened:
            return
        ConversionChapter.objects.filter(pk=conversion_chapter.pk).update(
            status=ConversionChapter.Status.MASTERING, attempts=0, sent_at=timezone.now(), segment_key=""
        )
        enqueue.send_on_commit("audiobooks.master_chapter", conversion_chapter.pk)


def _complete(conversion_id: int, *, duration_ms: int) -> None:
    with transaction.atomic(durable=True):
        completed = Conversion.objects.filter(pk=conversion_id, status=Conversion.Status.ASSEMBLING).update(
            status=Conversion.Status.COMPLETED, duration_ms=duration_ms, finished_at=timezone.now()
        )
        if completed:
            enqueue.send_on_commit("audiobooks.notify_conversion_finished", conversion_id)
            # Chapters mastered before an edit of the book's details carry the old tags.
            conversion = Conversion.objects.only("book_id", "created_at").get(pk=conversion_id)
            if Book.objects.filter(pk=conversion.book_id, updated_at__gt=conversion.created_at).exists():
                enqueue.send_on_commit("audiobooks.retag_book_files", conversion.book_id)
            _previous_revision_files_delete(conversion_id)
            places_follow_revision(revision_id=conversion_id)
    if completed:
        logger.info("conversion %s completed: %.1f min of audio", conversion_id, duration_ms / 60_000)


def _previous_revision_files_delete(conversion_id: int) -> None:
    """Inside the completing transaction: a revision replaces the audiobook it revised.

    That one's file rows go with the status change, and its objects once it
    commits; its Conversion and Part rows stay (for history). Only now, once
    the new audiobook is complete: until then the previous one stays
    downloadable. Chapter segments are content-addressed and shared, and Parts
    go with the render cache's age (``selectors.part_keys_in_use``).
    """
    revision = Conversion.objects.select_related("revision_of__book__owner").filter(pk=conversion_id).first()
    previous = revision.revision_of if revision is not None else None
    if previous is None:
        return
    prefix = storage_keys.conversion_prefix(**storage_keys.deliverable_ids(previous))
    files = StoredObject.objects.filter(key__startswith=prefix)
    keys = list(files.values_list("key", flat=True))
    files.delete()
    transaction.on_commit(lambda: objects_delete_after_commit(keys=keys))
    logger.info("conversion %s replaces %s: deleting its %d files", conversion_id, previous.uuid, len(keys))
