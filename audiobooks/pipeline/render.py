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
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from django.db import connection, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from audiobooks.models import Conversion, ConversionChapter, Part, StoredObject
from audiobooks.storage.services import stored_object_save
from ebookvoice import enqueue
from ebookvoice.errors import TRANSIENT_ERRORS
from tts_engine.engines.base import EngineError
from tts_engine.lexicon import Applied
from tts_engine.registry import get_engine, split_voice_key
from tts_engine.speech import RenderStopped, render_to_wav

from . import conf
from .dispatch import RUNNABLE, parts_dispatch_safely, runnable_conversions
from .heartbeat import Heartbeat
from .outcomes import WORKER_LOST, part_fail
from .sources import cached_part_key

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Waits between tries of a step after the render: about a minute in all.
STORE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)

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

    A running Part whose owner is gone is taken over at once: its heartbeat is
    older than 2 × ``PIPELINE_HEARTBEAT_SECONDS``, or its worker ran on this
    host and that process is no longer alive (Celery redelivers a killed
    child's message within a second; the reaper's stale rule would wait far
    longer). Out of attempts, it fails instead.

    The compare-and-swap filters on the Part's own columns only: PostgreSQL
    re-checks those on the row a concurrent claim just committed, whereas a
    filter through the conversion (a join, so a subquery in the UPDATE) would
    be judged on the old snapshot and let two workers claim the same Part.
    """
    now = timezone.now()
    dead_owner_out_of_attempts = False
    with transaction.atomic(durable=True):
        part = Part.objects.select_related("conversion__book", "chapter").filter(pk=part_id).first()
        if part is None or part.conversion.status not in RUNNABLE or part.conversion.cancel_requested:
            return None
        if part.status == Part.Status.PENDING:
            mine = Part.objects.filter(
                pk=part_id, status=Part.Status.PENDING, attempts__lt=conf.max_attempts()
            )
        elif part.status == Part.Status.RUNNING and part.worker != worker and owner_gone(part, now=now):
            logger.warning("Part %s: its worker %s is gone; %s takes it over", part_id, part.worker, worker)
            dead_owner_out_of_attempts = part.attempts >= conf.max_attempts()
            mine = Part.objects.filter(
                pk=part_id, status=Part.Status.RUNNING, worker=part.worker, heartbeat_at=part.heartbeat_at
            )
        else:
            return None
        if dead_owner_out_of_attempts:
            claimed = 0
        else:
            claimed = mine.update(
                status=Part.Status.RUNNING,
                # A message the reaper took for lost (and cleared) was only late: the Part is in
                # flight again, and the dispatcher must count it, or it sends one Part too many.
                dispatched_at=Coalesce(F("dispatched_at"), Value(now, output_field=DateTimeField())),
                attempts=F("attempts") + 1,
                worker=worker,
                heartbeat_at=now,
                started_at=now,
                error="",
            )
        if claimed:
            Conversion.objects.filter(pk=part.conversion_id, status=Conversion.Status.QUEUED).update(
                status=Conversion.Status.SYNTHESIZING, started_at=now
            )
    if dead_owner_out_of_attempts:
        part_fail(part_id=part_id, error=WORKER_LOST)
        return None
    if not claimed:
        return None
    part.refresh_from_db(fields=["status", "attempts", "worker", "heartbeat_at", "started_at", "error"])
    return part


def owner_gone(part: Part, *, now: datetime) -> bool:
    """Whether the worker holding this running Part is gone (see ``_claim``)."""
    if part.heartbeat_at is None or part.heartbeat_at < now - conf.owner_gone_after():
        return True
    host, _, pid = part.worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdecimal():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def _render_claimed(part: Part, *, worker: str) -> None:
    try:
        timings = _cached_timings(part)
        from_cache = timings is not None
        if timings is None:
            timings = _render_and_store(part, worker=worker)
        if timings is not None:
            _with_backoff(
                lambda: part_mark_done(
                    part=part,
                    worker=worker,
                    duration_ms=timings[0],
                    sentences=timings[1],
                    from_cache=from_cache,
                ),
                what=f"marking Part {part.pk} done",
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
    except TRANSIENT_ERRORS as error:
        # The database, storage or broker stayed out of reach through every
        # retry: not the Part's fault, so the attempt is given back.
        logger.warning("Part %s: infrastructure out of reach (%s); given back uncounted", part.pk, error)
        _with_backoff(lambda: _give_back(part, worker=worker), what=f"giving Part {part.pk} back")
    except Exception as error:
        # The time limit, or a bug of ours (it may be this worker): another
        # attempt may do better, within the attempts.
        logger.exception("rendering Part %s failed", part.pk)
        _retry_or_fail(part, worker=worker, error=f"{type(error).__name__}: {error}")


def _with_backoff(step: Callable[[], T], *, what: str) -> T:
    """Run ``step``, again after 0.5, 1, 2, 4… s (about a minute in all) while it raises a transient error.

    For the steps after a render: a database restart or a storage blip must
    not throw the rendered audio away or cost the Part an attempt.
    """
    delays = STORE_RETRY_DELAYS
    for attempt, delay in enumerate((*delays, None)):
        try:
            return step()
        except TRANSIENT_ERRORS as error:
            if delay is None:
                raise
            logger.warning(
                "%s failed (%s); retrying in %.1f s (%d/%d)", what, error, delay, attempt + 1, len(delays)
            )
            time.sleep(delay)
            _drop_broken_connection()
    raise AssertionError("unreachable")


def _drop_broken_connection() -> None:
    """Close this thread's database connection if the server dropped it, so the next query reconnects.

    Never inside a transaction: there the caller's own rollback decides.
    """
    if connection.in_atomic_block or connection.connection is None:
        return
    if not connection.is_usable():
        connection.close()


def _give_back(part: Part, *, worker: str) -> None:
    with transaction.atomic(durable=True):
        Part.objects.filter(pk=part.pk, status=Part.Status.RUNNING, worker=worker).update(
            status=Part.Status.PENDING,
            dispatched_at=None,
            worker="",
            attempts=Greatest(F("attempts") - 1, 0),
        )


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
                speed=part.speed or conversion.speed,
                language=conversion.book.language or "en",
                ends_paragraph=part.ends_paragraph,
                should_stop=heartbeat.lost,
                lexicon=[Applied.from_dict(entry) for entry in part.lexicon],
            )
        except RenderStopped:
            logger.info("Part %s stopped: no longer this worker's to render", part.pk)
            return None
        _with_backoff(lambda: _store(part, path), what=f"storing Part {part.pk}")
    return result.duration_ms, [sentence.as_dict() for sentence in result.sentences]


def _store(part: Part, path: Path) -> None:
    with path.open("rb") as audio:
        stored_object_save(key=cached_part_key(part.cache_key), content=audio, kind=StoredObject.Kind.PART)


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
