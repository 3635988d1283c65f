"""The M4B: every ready chapter mastered again from its Parts, with the gain its MP3 got, then joined.

Runs on the light queue once the last chapter is ready. Building from the
lossless Parts (not the MP3s) keeps one lossy encode between the voice and
the listener. Working files are removed chapter by chapter, so the disk used
is about the mastered book once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audiobooks.audio import AudioError
from audiobooks.audio.m4b import BookTags, ChapterFile, build_m4b
from audiobooks.audio.master import master_wav
from audiobooks.models import Conversion, ConversionChapter, StoredObject
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import stored_object_save
from ebookvoice import enqueue
from ebookvoice.errors import TransientError
from tts_engine.engines.base import EngineError
from tts_engine.registry import get_voice

from . import conf
from .mastering import parts_render_again
from .outcomes import ASSEMBLY_FAILED_MESSAGE, conversion_fail
from .sources import PartsMissing, authors_of, book_cover, chapter_join

logger = logging.getLogger(__name__)


def narrator_of(voice_key: str) -> str:
    try:
        return get_voice(voice_key).name
    except (EngineError, LookupError, ValueError):
        return voice_key  # the voice was removed since; its key still says who read


def conversion_assemble(*, conversion_id: int, workdir: Path) -> None:
    """Build and store the M4B of a conversion whose chapters are all ready, and complete it."""
    conversion = _claim(conversion_id)
    if conversion is None:
        return
    if conversion.assembly_attempts > conf.max_attempts():
        conversion_fail(conversion_id=conversion_id, message=ASSEMBLY_FAILED_MESSAGE)
        return
    book = conversion.book
    files: list[ChapterFile] = []
    try:
        for conversion_chapter in conversion.selections.select_related("chapter").order_by("position"):
            assert conversion_chapter.gain_db is not None  # ready chapters have one (a check constraint)
            try:
                joined = chapter_join(
                    conversion_chapter=conversion_chapter,
                    target=workdir / f"joined-{conversion_chapter.number}.wav",
                )
            except PartsMissing as lost:
                _reopen(conversion, conversion_chapter, lost.part_ids)
                return
            mastered = master_wav(
                joined, workdir / f"{conversion_chapter.number:04d}.wav", gain_db=conversion_chapter.gain_db
            )
            joined.path.unlink()
            files.append(ChapterFile(path=mastered.audio.path, title=conversion_chapter.chapter.title))
        tags = BookTags(
            title=book.display_title,
            author=authors_of(book),
            narrator=narrator_of(conversion.voice_key),
            year=str(conversion.created_at.year),
            cover=book_cover(book=book, workdir=workdir),
        )
        m4b = build_m4b(files, workdir / "book.m4b", tags=tags)
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


def _claim(conversion_id: int) -> Conversion | None:
    with transaction.atomic(durable=True):
        claimed = Conversion.objects.filter(pk=conversion_id, status=Conversion.Status.ASSEMBLING).update(
            assembly_attempts=F("assembly_attempts") + 1, assembly_sent_at=timezone.now()
        )
        if not claimed:
            return None
        return Conversion.objects.select_related("book__owner").get(pk=conversion_id)


def _reopen(conversion: Conversion, conversion_chapter: ConversionChapter, part_ids: list[int]) -> None:
    """A Part vanished before the M4B was built: back to synthesizing until it is rendered again."""
    with transaction.atomic(durable=True):
        Conversion.objects.filter(pk=conversion.pk, status=Conversion.Status.ASSEMBLING).update(
            status=Conversion.Status.SYNTHESIZING, assembly_sent_at=None
        )
    parts_render_again(conversion_chapter=conversion_chapter, part_ids=part_ids)


def _complete(conversion_id: int, *, duration_ms: int) -> None:
    with transaction.atomic(durable=True):
        completed = Conversion.objects.filter(pk=conversion_id, status=Conversion.Status.ASSEMBLING).update(
            status=Conversion.Status.COMPLETED, duration_ms=duration_ms, finished_at=timezone.now()
        )
        if completed:
            enqueue.send_on_commit("audiobooks.notify_conversion_finished", conversion_id)
    if completed:
        logger.info("conversion %s completed: %.1f min of audio", conversion_id, duration_ms / 60_000)
