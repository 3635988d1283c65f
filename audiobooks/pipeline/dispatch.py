"""The dispatcher: a bounded number of Parts in the broker, shared fairly between conversions.

Celery's queue is first in, first out. Were every Part of a 40-hour book sent
at submission, a short story submitted after it would wait for all of them.
So the broker holds at most one Part per synthesis process, plus one spare,
and each free slot goes to the running conversion with the fewest Parts in
flight, the one served longest ago first: round-robin, in reading order
within each conversion.

The spare slot is kept for a conversion with nothing in flight. A new
conversion's first Part is so sent at once and taken by the next worker to
finish, instead of waiting in the queue behind a long book's next Part;
a worker that finishes a Part dispatches before it asks for the next
message, so the others never wait for work either.

It runs after every submission, after every finished Part, and from the
reaper, serialized by a database lock, so two dispatchers never fill the same
slot twice.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from audiobooks.models import Conversion, Part
from ebookvoice import enqueue

from . import conf

logger = logging.getLogger(__name__)

RUNNABLE = (Conversion.Status.QUEUED, Conversion.Status.SYNTHESIZING)
# A Part sent and not yet finished; a Part not yet sent.
_IN_FLIGHT: dict[str, object] = {
    "status__in": (Part.Status.PENDING, Part.Status.RUNNING),
    "dispatched_at__isnull": False,
}
_WAITING: dict[str, object] = {"status": Part.Status.PENDING, "dispatched_at__isnull": True}
IN_FLIGHT, WAITING = Q(**_IN_FLIGHT), Q(**_WAITING)
# Any 64-bit number of our own for pg_advisory_xact_lock.
_DISPATCH_LOCK = 0x65_62_76_64_69_73_70  # "ebvdisp"


def _of_parts(condition: dict[str, object]) -> Q:
    """A condition on Parts, as seen from their Conversion."""
    return Q(**{f"parts__{name}": value for name, value in condition.items()})


def runnable_conversions() -> Q:
    return Q(conversion__status__in=RUNNABLE, conversion__cancel_requested=False)


@dataclass(frozen=True)
class Candidate:
    conversion_id: int
    in_flight: int
    waiting: int
    last_sent: datetime | None
    created_at: datetime


def _lock() -> None:
    """Serialize dispatchers until the transaction ends.

    PostgreSQL: an advisory lock. SQLite (the embedded default) opens every
    transaction IMMEDIATE, which already lets one writer in at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DISPATCH_LOCK])


def fair_share(*, candidates: list[Candidate], free: int, spare: int = 1) -> Counter[int]:
    """How many slots each conversion gets: fewest in flight first, then least recently served.

    ``free`` slots go to anyone; ``spare`` more only to conversions with no Part in flight.
    """
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    heap = [(c.in_flight, c.last_sent or epoch, c.created_at, c.conversion_id, c.waiting) for c in candidates]
    heapq.heapify(heap)
    share: Counter[int] = Counter()
    now = timezone.now()
    for turn in range(free + spare):
        if not heap:
            break
        in_flight, _, created_at, conversion_id, waiting = heapq.heappop(heap)
        if in_flight and turn >= free:
            break  # the heap gives the fewest in flight first: nobody left is new
        share[conversion_id] += 1
        if waiting > 1:
            # Served now: behind every conversion with as many in flight.
            served = now + timedelta(microseconds=turn)
            heapq.heappush(heap, (in_flight + 1, served, created_at, conversion_id, waiting - 1))
    return share


def parts_dispatch() -> int:
    """Send Parts to the synthesis queue, up to ``in_flight_limit()`` in the broker; returns how many.

    The messages go after commit; one that cannot be published is logged and
    marked unsent again, so the next dispatch (the reaper's, every few
    seconds) sends it.
    """
    with transaction.atomic(durable=True):
        _lock()
        live = Part.objects.filter(runnable_conversions())
        in_flight = live.filter(IN_FLIGHT).count()
        if in_flight >= conf.in_flight_limit():
            return 0
        rows = (
            Conversion.objects.filter(status__in=RUNNABLE, cancel_requested=False)
            .annotate(
                in_flight=Count("parts", filter=_of_parts(_IN_FLIGHT)),
                waiting=Count("parts", filter=_of_parts(_WAITING)),
                last_sent=Max("parts__dispatched_at"),
            )
            .filter(waiting__gt=0)
            .values_list("id", "in_flight", "waiting", "last_sent", "created_at")
        )
        share = fair_share(
            candidates=[Candidate(*row) for row in rows],
            free=max(0, conf.synthesis_processes() - in_flight),
            spare=conf.in_flight_limit() - max(in_flight, conf.synthesis_processes()),
        )
        now = timezone.now()
        sent: list[tuple[int, str]] = []
        for conversion_id, count in share.items():
            part_ids = Part.objects.filter(WAITING, conversion_id=conversion_id).order_by("index")
            for part_id in part_ids.values_list("id", flat=True)[:count]:
                task_id = f"part-{part_id}-{uuid.uuid4().hex[:12]}"
                Part.objects.filter(pk=part_id).update(dispatched_at=now, task_id=task_id)
                sent.append((part_id, task_id))
        if sent:
            transaction.on_commit(lambda: _publish(sent), robust=True)
    return len(sent)


def _publish(parts: list[tuple[int, str]]) -> None:
    """Send each Part; one the broker refused is marked unsent, so the next dispatch sends it again."""
    unsent = []
    for part_id, task_id in parts:
        if not enqueue.send("audiobooks.synthesize_part", part_id, task_id=task_id):
            logger.warning("Part %s was not sent to the broker; the next dispatch sends it again", part_id)
            unsent.append((part_id, task_id))
    for part_id, task_id in unsent:
        try:
            # Only if this very message is still the Part's last: a claim or a later send wins.
            Part.objects.filter(
                pk=part_id, status=Part.Status.PENDING, task_id=task_id, dispatched_at__isnull=False
            ).update(dispatched_at=None)
        except Exception:
            # The database is out of reach too: the reaper finds the Part unclaimed.
            logger.warning("Part %s stays marked as sent; the reaper sends it again", part_id, exc_info=True)


def parts_dispatch_safely() -> None:
    """``parts_dispatch`` for callers whose own work is done: a failure is logged, never raised.

    Nothing is lost: the reaper dispatches again on its next round.
    """
    try:
        parts_dispatch()
    except Exception:
        logger.exception("dispatching Parts failed; the reaper will dispatch them")
