"""The reaper, run by Celery beat: work whose worker or message was lost is found in the database.

- A running Part whose heartbeat went stale lost its worker (``kill -9``, a
  machine gone): it goes back to pending, or fails once out of attempts,
  which fails the conversion and refunds it. ``Task.on_failure`` never runs
  for a killed worker; this does.
- A Part sent but never claimed lost its message (a broker restart, a publish
  that failed after commit): it is sent again.
- A chapter being mastered, or a book being assembled, not done long after
  its message was sent, is sent again (its attempts are counted by its task).
- Then the dispatcher fills the free slots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audiobooks.models import Conversion, ConversionChapter, Part
from ebookvoice import enqueue

from . import conf
from .dispatch import parts_dispatch, runnable_conversions
from .outcomes import part_fail

logger = logging.getLogger(__name__)

WORKER_LOST = "The worker rendering this Part stopped answering (killed, or its machine lost)."


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

    with transaction.atomic(durable=True):
        # Cleared, not sent from here: the dispatcher sends them again in turn.
        resent = Part.objects.filter(
            runnable_conversions(), status=Part.Status.PENDING, dispatched_at__lt=now - conf.unclaimed_after()
        ).update(dispatched_at=None)

    assembly_resent = _resend_assembly(now)
    dispatched = parts_dispatch()
    reaped = Reaped(requeued, failed, resent, assembly_resent, dispatched)
    if requeued or failed or resent or assembly_resent:
        logger.warning("reaper: %s", reaped)
    return reaped


def _resend_assembly(now: datetime) -> int:
    cutoff = now - conf.assembly_resend_after()
    with transaction.atomic(durable=True):
        chapters = list(
            ConversionChapter.objects.select_for_update(skip_locked=True)
            .filter(status=ConversionChapter.Status.MASTERING, sent_at__lt=cutoff)
            .values_list("id", flat=True)
        )
        ConversionChapter.objects.filter(pk__in=chapters).update(sent_at=now)
        books = list(
            Conversion.objects.select_for_update(skip_locked=True)
            .filter(status=Conversion.Status.ASSEMBLING, assembly_sent_at__lt=cutoff)
            .values_list("id", flat=True)
        )
        Conversion.objects.filter(pk__in=books).update(assembly_sent_at=now)
        for chapter_id in chapters:
            enqueue.send_on_commit("audiobooks.master_chapter", chapter_id)
        for conversion_id in books:
            enqueue.send_on_commit("audiobooks.assemble_book", conversion_id)
    return len(chapters) + len(books)
