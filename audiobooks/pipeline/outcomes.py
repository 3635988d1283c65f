"""How a Conversion ends early, failed or cancelled, refunded exactly once; and how staff start it again.

Both endings keep what is finished: ready chapters stay playable, rendered Parts stay
in the cache. The refund (``credits.services.conversion_refund``) is made in
the same transaction as the status change, under the key ``refund:<uuid>``,
so a cancel, a failure and the reaper together still refund once. Staff
cancel and retry from the admin through ``conversion_cancel_by_staff`` and
``conversion_retry_by_staff``, which check who is asking.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Conversion, ConversionChapter, Part
from credits.services import conversion_refund
from ebookvoice import enqueue
from ebookvoice.celery import app

from .dispatch import parts_dispatch_safely

logger = logging.getLogger(__name__)

WORKER_LOST = "The worker rendering this Part stopped answering (killed, or its machine lost)."
# What an open Part of a conversion that ended early is closed with.
CLOSED_BY_CANCEL = "The conversion was cancelled before this Part was rendered."
CLOSED_BY_FAILURE = "The conversion failed on another Part before this one was rendered."

# What a reader sees when the pipeline itself gave up; the detail is logged.
PART_FAILED_MESSAGE = (
    "Part of chapter “{chapter}” could not be rendered after {attempts} attempts. "
    "The chapters finished so far are kept, and the rest of your credits were refunded."
)
ASSEMBLY_FAILED_MESSAGE = (
    "The audiobook could not be put together. The chapters finished so far are kept, "
    "and the credits for the rest were refunded."
)


def rendered_characters(*, conversion_id: int) -> int:
    """Characters of the charged Parts done: a revision's reused Parts were never charged."""
    done = Part.objects.filter(conversion_id=conversion_id, status=Part.Status.DONE, reused=False)
    return int(done.aggregate(total=Sum("characters"))["total"] or 0)


def _settle(conversion: Conversion, *, closed_as: str) -> None:
    """Inside the caller's transaction: close the open Parts, refund what was not rendered.

    Every pending or running Part moves to ``closed_as`` (``cancelled`` or
    ``skipped``), so nothing is left to run: ``stats`` and the metrics count
    none, and a running Part's heartbeat finds it gone and stops the render.
    Operator jobs paid nothing and are not refunded; nor is a revision made
    wholly of reused Parts (going back to Parts still stored), charged nothing.
    """
    if not conversion.operator_job and conversion.charge_hundredths:
        conversion_refund(
            conversion_uuid=conversion.uuid,
            rendered_characters=rendered_characters(conversion_id=conversion.pk),
        )
    open_parts = conversion.parts.filter(status__in=Part.OPEN)
    task_ids = list(open_parts.exclude(task_id="").values_list("task_id", flat=True))
    open_parts.update(
        status=closed_as,
        finished_at=timezone.now(),
        error=CLOSED_BY_CANCEL if closed_as == Part.Status.CANCELLED else CLOSED_BY_FAILURE,
    )
    if task_ids:
        transaction.on_commit(lambda: _revoke(task_ids), robust=True)


def _revoke(task_ids: list[str]) -> None:
    """Ask workers to drop these messages; a running Part also stops at its next heartbeat.

    One connection attempt only: a cancel must answer at once even when the
    broker is down, and nothing depends on the revoke.
    """
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            app.control.revoke(task_ids, connection=connection)
    except Exception:
        # Harmless: a Part of a finished conversion is never claimed.
        logger.warning("could not revoke %d Part messages", len(task_ids), exc_info=True)


def conversion_fail(*, conversion_id: int, message: str) -> bool:
    """Fail a conversion that has not finished, and refund it; False when it had already finished."""
    with transaction.atomic(durable=True):
        return _fail(conversion_id=conversion_id, message=message)


def _fail(*, conversion_id: int, message: str) -> bool:
    failed = Conversion.objects.filter(pk=conversion_id, status__in=Conversion.ACTIVE).update(
        status=Conversion.Status.FAILED, error_message=message, finished_at=timezone.now()
    )
    if failed:
        logger.warning("conversion %s failed: %s", conversion_id, message)
        _settle(Conversion.objects.get(pk=conversion_id), closed_as=Part.Status.SKIPPED)
        enqueue.send_on_commit("audiobooks.notify_conversion_finished", conversion_id)
    return bool(failed)


def conversion_cancel_and_settle(*, conversion: Conversion) -> bool:
    """Inside the caller's transaction: cancel and refund; False when it had already finished."""
    cancelled = Conversion.objects.filter(pk=conversion.pk, status__in=Conversion.CANCELLABLE).update(
        status=Conversion.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    conversion.refresh_from_db()
    if cancelled:
        _settle(conversion, closed_as=Part.Status.CANCELLED)
    return bool(cancelled)


def part_fail(*, part_id: int, error: str, message: str | None = None) -> None:
    """Fail a Part out of attempts (or one no attempt can render), and its conversion with it.

    ``error`` is for staff (the admin shows it); ``message`` for the reader,
    by default ``PART_FAILED_MESSAGE``.
    """
    with transaction.atomic(durable=True):
        part = Part.objects.select_related("chapter").get(pk=part_id)
        Part.objects.filter(pk=part_id, status__in=Part.OPEN).update(
            status=Part.Status.FAILED, error=error[:2000] or "failed", finished_at=timezone.now()
        )
        _fail(
            conversion_id=part.conversion_id,
            message=message or PART_FAILED_MESSAGE.format(chapter=part.chapter.title, attempts=part.attempts),
        )


class ConversionNotRetryable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def conversion_retry(*, conversion_id: int, actor: User) -> int:
    """Staff: run a failed conversion again from where it stopped; returns how many Parts go back.

    Failed Parts get fresh attempts, and so do chapters and the M4B if their
    assembly failed. Nothing is charged again: the reader was refunded for the
    unrendered share when it failed, and staff chose to finish it anyway (the
    refund key stays spent, so a second failure refunds nothing more).
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        conversion = Conversion.objects.select_for_update().filter(pk=conversion_id).first()
        if conversion is None or conversion.status != Conversion.Status.FAILED:
            raise ConversionNotRetryable("Only a failed conversion can be retried.")
        parts = Part.objects.filter(conversion=conversion).exclude(status=Part.Status.DONE)
        reopened = parts.update(
            status=Part.Status.PENDING, attempts=0, dispatched_at=None, worker="", error=""
        )
        stuck = list(
            conversion.selections.filter(status=ConversionChapter.Status.MASTERING).values_list(
                "id", flat=True
            )
        )
        ConversionChapter.objects.filter(pk__in=stuck).update(attempts=0, sent_at=now)
        assemble = (
            not reopened and not conversion.selections.exclude(status=ConversionChapter.Status.READY).exists()
        )
        conversion.status = Conversion.Status.ASSEMBLING if assemble else Conversion.Status.SYNTHESIZING
        conversion.error_message = ""
        conversion.started_at = conversion.started_at or now
        conversion.finished_at = None
        conversion.assembly_attempts = 0
        conversion.assembly_sent_at = now if assemble else None
        conversion.save(
            update_fields=[
                "status",
                "error_message",
                "started_at",
                "finished_at",
                "assembly_attempts",
                "assembly_sent_at",
            ]
        )
        for conversion_chapter_id in stuck:
            enqueue.send_on_commit("audiobooks.master_chapter", conversion_chapter_id)
        if assemble:
            enqueue.send_on_commit("audiobooks.assemble_book", conversion.pk)
    logger.warning("conversion %s retried by %s: %d Parts reopened", conversion_id, actor.pk, reopened)
    parts_dispatch_safely()
    return reopened


# --- Staff, from the admin -----------------------------------------------------------------


def _require_staff(actor: User) -> None:
    if not (actor.is_active and actor.is_staff and actor.has_perm("audiobooks.change_conversion")):
        raise PermissionDenied("Only staff who may change conversions can do this.")


def conversion_cancel_by_staff(*, conversion_id: int, actor: User) -> bool:
    """Stop a conversion that has not finished and refund its unrendered share, exactly once.

    False when it had already finished (completed, failed or cancelled): nothing changes then.
    """
    _require_staff(actor)
    with transaction.atomic(durable=True):
        conversion = Conversion.objects.get(pk=conversion_id)
        cancelled = conversion_cancel_and_settle(conversion=conversion)
    if cancelled:
        logger.warning("conversion %s cancelled by staff user %s", conversion.uuid, actor.pk)
        parts_dispatch_safely()  # its slots in the broker go to other conversions
    return cancelled


def conversion_retry_by_staff(*, conversion_id: int, actor: User) -> int:
    """Run a failed conversion again from where it stopped; returns how many Parts go back to the queue.

    Raises ``ConversionNotRetryable`` for one that has not failed.
    """
    _require_staff(actor)
    return conversion_retry(conversion_id=conversion_id, actor=actor)
