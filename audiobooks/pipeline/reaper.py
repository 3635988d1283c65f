"""The reaper: work whose worker or message was lost is found in the database, within seconds.

It runs on a thread of Celery beat's own process (``ReaperThread``) every
``PIPELINE_REAP_EVERY_SECONDS``, so no long assembly on the light queue, and
no light worker being down, can hold it back.

- A running Part whose heartbeat went stale lost its worker (``kill -9``, a
  machine gone): it goes back to pending, or fails once out of attempts,
  which fails the conversion and refunds it. ``Task.on_failure`` never runs
  for a killed worker; this does.
- A Part sent but not claimed within max(``PIPELINE_UNCLAIMED_SECONDS``, 3 ×
  the observed p99 claim latency) while a synthesis slot is idle lost its
  message (a broker restarted empty): it is sent again. The claim is a
  compare-and-swap, so a message that was only late does nothing.
- A chapter whose Parts are all done, or a book whose chapters are all
  ready, not picked up within max(``PIPELINE_ASSEMBLY_SECONDS``, 2 × the
  observed p99 mastering or assembly time) is sent again.
- Then the dispatcher fills the free slots.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from audiobooks.models import Conversion, ConversionChapter, Part
from ebookvoice import enqueue

from . import conf, observed
from .dispatch import parts_dispatch, runnable_conversions
from .outcomes import WORKER_LOST, part_fail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reaped:
    requeued: int = 0  # stale heartbeat, attempts left
    failed: int = 0  # stale heartbeat, out of attempts
    resent: int = 0  # Parts sent again after no worker claimed them
    assembly_resent: int = 0  # chapters and books sent to mastering or assembly again
    dispatched: int = 0


def conversions_reap() -> Reaped:
    now = timezone.now()
    requeued = failed = 0
    stale = Part.objects.filter(
        runnable_conversions(), status=Part.Status.RUNNING, heartbeat_at__lt=now - conf.stale_after()
    )
    for part_id, attempts, heartbeat_at in stale.values_list("id", "attempts", "heartbeat_at"):
        if attempts >= conf.max_attempts():
            part_fail(part_id=part_id, error=WORKER_LOST)
            failed += 1
            continue
        with transaction.atomic(durable=True):
            # Only if nobody stamped it since we looked.
            requeued += Part.objects.filter(
                pk=part_id, status=Part.Status.RUNNING, heartbeat_at=heartbeat_at
            ).update(status=Part.Status.PENDING, dispatched_at=None, worker="", error=WORKER_LOST)

    resent = 0
    if slot_idle(now=now):
        with transaction.atomic(durable=True):
            # Cleared, not sent from here: the dispatcher sends them again in turn.
            resent = Part.objects.filter(
                runnable_conversions(),
                status=Part.Status.PENDING,
                dispatched_at__lt=now - observed.unclaimed_after(),
            ).update(dispatched_at=None)

    assembly_resent = _resend_assembly(now)
    dispatched = parts_dispatch()
    reaped = Reaped(requeued, failed, resent, assembly_resent, dispatched)
    if requeued or failed or resent or assembly_resent:
        logger.warning("reaper: %s", reaped)
    return reaped


def slot_idle(*, now: datetime) -> bool:
    """Whether fewer Parts are being rendered (fresh heartbeat) than there are synthesis processes."""
    busy = Part.objects.filter(status=Part.Status.RUNNING, heartbeat_at__gte=now - conf.stale_after()).count()
    return busy < conf.synthesis_processes()


def _resend_assembly(now: datetime) -> int:
    chapters_cutoff = now - observed.mastering_resend_after()
    books_cutoff = now - observed.assembly_resend_after()
    with transaction.atomic(durable=True):
        chapters = list(
            ConversionChapter.objects.select_for_update(skip_locked=True)
            .filter(
                status=ConversionChapter.Status.MASTERING,
                sent_at__lt=chapters_cutoff,
                conversion__status=Conversion.Status.SYNTHESIZING,
            )
            .values_list("id", flat=True)
        )
        ConversionChapter.objects.filter(pk__in=chapters).update(sent_at=now)
        books = list(
            Conversion.objects.select_for_update(skip_locked=True)
            .filter(status=Conversion.Status.ASSEMBLING, assembly_sent_at__lt=books_cutoff)
            .values_list("id", flat=True)
        )
        Conversion.objects.filter(pk__in=books).update(assembly_sent_at=now)
        for chapter_id in chapters:
            enqueue.send_on_commit("audiobooks.master_chapter", chapter_id)
        for conversion_id in books:
            enqueue.send_on_commit("audiobooks.assemble_book", conversion_id)
    return len(chapters) + len(books)


class ReaperThread:
    """``conversions_reap`` every ``PIPELINE_REAP_EVERY_SECONDS`` on a daemon thread of this process.

    Started in Celery beat's process (``audiobooks.tasks`` connects it to
    ``beat_init``), where nothing else runs long. A failed round (the database
    restarting) is logged and the next one runs as usual; the thread's
    database connection is its own and is closed after a failure, so the next
    round opens a fresh one.
    """

    def __init__(self, *, every_seconds: float | None = None) -> None:
        self.every_seconds = every_seconds or conf.reap_every_seconds()
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ebookvoice-reaper", daemon=True)

    def start(self) -> ReaperThread:
        self._thread.start()
        logger.info("reaper: every %.1f s in this process", self.every_seconds)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while True:
                started = time.monotonic()
                try:
                    conversions_reap()
                except Exception:
                    logger.exception("reaper round failed; the next one runs in %.1f s", self.every_seconds)
                    connection.close()
                else:
                    close_old_connections()
                self.rounds += 1
                if self._stop.wait(max(0.0, self.every_seconds - (time.monotonic() - started))):
                    return
        finally:
            connection.close()
