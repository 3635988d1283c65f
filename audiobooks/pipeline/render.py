"""Rendering one Part in a synthesis worker: claim, reuse or render, store, mark done.

Each step is safe to repeat. The claim is a compare-and-swap from pending to
running that counts an attempt; a Part whose audio is already stored (the
render cache: the same text, voice, model, speed and pauses, from any
conversion of any user) is marked done without rendering. Audio is rendered
to a temporary file, stored under ``parts/<cache key>.wav``, and only then is
the Part marked done, so a worker killed at any moment leaves either nothing
or a complete cached file.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from dataclasses import asdict
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audiobooks.models import Conversion, ConversionChapter, Part, StoredObject
from audiobooks.storage.services import stored_object_save
from ebookvoice import enqueue
from tts_engine.engines.base import EngineError
from tts_engine.registry import get_engine, split_voice_key
from tts_engine.speech import RenderStopped, render_to_wav

from . import conf
from .dispatch import RUNNABLE, parts_dispatch_safely, runnable_conversions
from .heartbeat import Heartbeat
from .outcomes import part_fail
from .sources import cached_part_key

logger = logging.getLogger(__name__)

UNRENDERABLE_MESSAGE = "The voice could not read part of chapter “{chapter}”: {reason}"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def part_render(*, part_id: int, worker: str | None = None) -> None:
    """Render one Part if it is still waiting; then send the next Parts to the broker.

    Raises nothing for a Part that is not this attempt's to render (done,
    running elsewhere, its conversion finished).
    """
    worker = worker or worker_name()
    part = _claim(part_id=part_id, worker=worker)
    if part is not None:
        try:
            _render_claimed(part, worker=worker)
        finally:
            parts_dispatch_safely()


def _claim(*, part_id: int, worker: str) -> Part | None:
    """Pending → running, counting an attempt; None when the Part is not this delivery's to render.

    The compare-and-swap filters on the Part's own columns only: PostgreSQL
    re-checks those on the row a concurrent claim just committed, whereas a
    filter through the conversion (a join, so a subquery in the UPDATE) would
    be judged on the old snapshot and let two workers claim the same Part.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        part = Part.objects.select_related("conversion__book", "chapter").filter(pk=part_id).first()
        if part is None or part.conversion.status not in RUNNABLE or part.conversion.cancel_requested:
            return None
        claimed = Part.objects.filter(
            pk=part_id, status=Part.Status.PENDING, attempts__lt=conf.max_attempts()
        ).update(
            status=Part.Status.RUNNING,
            attempts=F("attempts") + 1,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            error="",
        )
        if not claimed:
            return None
        Conversion.objects.filter(pk=part.conversion_id, status=Conversion.Status.QUEUED).update(
            status=Conversion.Status.SYNTHESIZING, started_at=now
        )
    part.refresh_from_db(fields=["status", "attempts", "worker", "heartbeat_at", "started_at", "error"])
    return part


def _render_claimed(part: Part, *, worker: str) -> None:
    try:
        timings = _cached_timings(part)
        from_cache = timings is not None
        if timings is None:
            timings = _render_and_store(part, worker=worker)
        if timings is not None:
            part_mark_done(
                part=part, worker=worker, duration_ms=timings[0], sentences=timings[1], from_cache=from_cache
            )
    except EngineError as error:
        if error.retryable:
            _retry_or_fail(part, worker=worker, error=str(error))
        else:
            logger.error("Part %s cannot be rendered: %s", part.pk, error)
            part_fail(
                part_id=part.pk,
                error=str(error),
                message=UNRENDERABLE_MESSAGE.format(chapter=part.chapter.title, reason=error.message),
            )
    except Exception as error:
        # Storage down for a moment, the time limit, or a bug of ours (it may be
        # this worker): another attempt may do better, within the attempts.
        logger.exception("rendering Part %s failed", part.pk)
        _retry_or_fail(part, worker=worker, error=f"{type(error).__name__}: {error}")


def _cached_timings(part: Part) -> tuple[int, list[dict[str, object]]] | None:
    """The duration and sentences of the same audio rendered before, if it is still stored."""
    key = cached_part_key(part.cache_key)
    if not StoredObject.objects.filter(key=key).exists():
        return None
    twin = (
        Part.objects.filter(cache_key=part.cache_key, status=Part.Status.DONE)
        .values_list("duration_ms", "sentences")
        .first()
    )
    if twin is None or twin[0] is None:
        return None  # stored, but its timings went with its conversion: render again
    return twin[0], twin[1]


def _render_and_store(part: Part, *, worker: str) -> tuple[int, list[dict[str, object]]] | None:
    """Render to a temporary file and store it; None when the Part stopped being ours meanwhile."""
    conversion = part.conversion
    engine_name, voice_id = split_voice_key(conversion.voice_key)
    engine = get_engine(engine_name)
    with (
        tempfile.TemporaryDirectory(prefix="ebv-part-") as workdir,
        Heartbeat(part_id=part.pk, worker=worker, every_seconds=conf.heartbeat_seconds()) as heartbeat,
    ):
        path = Path(workdir) / "part.wav"
        try:
            result = render_to_wav(
                path,
                engine=engine,
                voice_id=voice_id,
                text=part.text,
                title=part.chapter.title if part.speaks_title else None,
                speed=conversion.speed,
                language=conversion.book.language or "en",
                ends_paragraph=part.ends_paragraph,
                should_stop=heartbeat.lost,
            )
        except RenderStopped:
            logger.info("Part %s stopped: no longer this worker's to render", part.pk)
            return None
        with path.open("rb") as audio:
            stored_object_save(
                key=cached_part_key(part.cache_key), content=audio, kind=StoredObject.Kind.PART
            )
    return result.duration_ms, [asdict(sentence) for sentence in result.sentences]


def part_mark_done(
    *, part: Part, worker: str, duration_ms: int, sentences: list[dict[str, object]], from_cache: bool = False
) -> bool:
    """Mark a running Part done; the chapter's last Part sends the chapter to mastering.

    The chapter row is locked first, so of two Parts finishing at once the
    second sees the first done, and exactly one sends the chapter on.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        conversion_chapter = (
            ConversionChapter.objects.select_for_update()
            .filter(conversion_id=part.conversion_id, chapter_id=part.chapter_id)
            .first()
        )
        if conversion_chapter is None:
            return False  # the book was deleted while this Part rendered; its audio stays cached
        done = Part.objects.filter(
            runnable_conversions(), pk=part.pk, status=Part.Status.RUNNING, worker=worker
        ).update(
            status=Part.Status.DONE,
            duration_ms=duration_ms,
            from_cache=from_cache,
            sentences=sentences,
            finished_at=now,
            heartbeat_at=now,
        )
        if not done:
            return False
        rest = Part.objects.filter(conversion_id=part.conversion_id, chapter_id=part.chapter_id)
        if (
            not rest.exclude(status=Part.Status.DONE).exists()
            and conversion_chapter.status == conversion_chapter.Status.RENDERING
        ):
            conversion_chapter.status = conversion_chapter.Status.MASTERING
            conversion_chapter.sent_at = now
            conversion_chapter.save(update_fields=["status", "sent_at"])
            enqueue.send_on_commit("audiobooks.master_chapter", conversion_chapter.pk)
    return True


def _retry_or_fail(part: Part, *, worker: str, error: str) -> None:
    """Give the Part back for another attempt, or fail it when it has had them all."""
    logger.warning("Part %s attempt %d failed: %s", part.pk, part.attempts, error)
    if part.attempts >= conf.max_attempts():
        part_fail(part_id=part.pk, error=error)
        return
    with transaction.atomic(durable=True):
        Part.objects.filter(pk=part.pk, status=Part.Status.RUNNING, worker=worker).update(
            status=Part.Status.PENDING, dispatched_at=None, worker="", error=error[:2000]
        )
