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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
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
_REQUESTS = "audiobooks_dispatch_requests"  # a sequence (migration 0013)
# Rounds one dispatcher runs for requests that came in while it worked; later ones find it gone.
_ROUNDS = 5


def runnable_conversions() -> Q:
    return Q(conversion__status__in=RUNNABLE, conversion__cancel_requested=False)


@dataclass(frozen=True)
class Candidate:
    conversion_id: int
    in_flight: int
    waiting: int
    last_sent: datetime | None
    created_at: datetime


def _lock() -> bool:
    """Serialize dispatchers until the transaction ends; False when another holds the lock (PostgreSQL).

    PostgreSQL: an advisory lock, tried without waiting (see ``parts_dispatch``).
    SQLite (the embedded default) opens every transaction IMMEDIATE, which
    already lets one writer in at a time.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_DISPATCH_LOCK])
        return bool(cursor.fetchone()[0])


def _request() -> int:
    """Count one more request for a dispatch (PostgreSQL; outside any transaction's rollback)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval('{_REQUESTS}')")
        return int(cursor.fetchone()[0])


def _requests_seen() -> int:
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {_REQUESTS}")  # noqa: S608  (our own constant)
        return int(cursor.fetchone()[0])


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

    Every Part that finishes runs this, under one lock, so its cost must not
    grow with the Parts that wait: a 400-chapter book waits with thousands.
    It reads only the Parts in flight (at most ``in_flight_limit()``, through
    a partial index), asks each running conversion whether any Part waits
    (one index probe each), and fetches the next Parts only of the
    conversions that get a slot. Which conversion was served longest ago is
    kept on the conversion (``parts_sent_at``), not found among its Parts.

    Nor does anyone wait for the lock. Each call counts a request first; a
    call that finds another dispatcher at work returns at once and leaves its
    request to it: the one at work reads the count once it holds the lock and
    again after it commits, and runs again when the count moved, since a Part
    that finished meanwhile may have freed a slot it did not see. Its count
    is read after the lock is gone, so no request falls between the two.
    """
    sent = 0
    _request()
    for _ in range(_ROUNDS):
        seen, round_sent = _dispatch_round()
        sent += round_sent
        if seen is None or _requests_seen() == seen:
            return sent
    return sent


def _dispatch_round() -> tuple[int | None, int]:
    """One dispatch under the lock: (the requests counted when it was taken, Parts sent); None: not taken."""
    with transaction.atomic(durable=True):
        if not _lock():
            return None, 0
        seen = _requests_seen()
        in_flight_by_conversion: Counter[int] = Counter(
            dict(
                Part.objects.filter(runnable_conversions(), IN_FLIGHT)
                .order_by()
                .values("conversion_id")
                .annotate(count=Count("id"))
                .values_list("conversion_id", "count")
            )
        )
        in_flight = in_flight_by_conversion.total()
        if in_flight >= conf.in_flight_limit():
            return seen, 0
        free = max(0, conf.synthesis_processes() - in_flight)
        spare = conf.in_flight_limit() - max(in_flight, conf.synthesis_processes())
        rows = (
            Conversion.objects.filter(status__in=RUNNABLE, cancel_requested=False)
            .filter(Exists(Part.objects.filter(WAITING, conversion_id=OuterRef("pk"))))
            .values_list("id", "parts_sent_at", "created_at")
        )
        # Until a conversion is found to have fewer, assume it has a Part for every slot.
        candidates = {
            conversion_id: Candidate(
                conversion_id, in_flight_by_conversion[conversion_id], free + spare, last_sent, created_at
            )
            for conversion_id, last_sent, created_at in rows
        }
        chosen = _parts_chosen(candidates, free=free, spare=spare)
        now = timezone.now()
        sent: list[tuple[int, str]] = [
            (part_id, f"part-{part_id}-{uuid.uuid4().hex[:12]}") for ids in chosen.values() for part_id in ids
        ]
        if sent:
            # One statement for all, however many: the lock is held while it runs.
            Part.objects.bulk_update(
                [Part(pk=part_id, dispatched_at=now, task_id=task_id) for part_id, task_id in sent],
                ["dispatched_at", "task_id"],
            )
            Conversion.objects.filter(pk__in=list(chosen)).update(parts_sent_at=now)
            transaction.on_commit(lambda: _publish(sent), robust=True)
    return seen, len(sent)


def _parts_chosen(candidates: dict[int, Candidate], *, free: int, spare: int) -> dict[int, list[int]]:
    """The Parts to send, by conversion, in reading order: ``fair_share`` of the slots, then their ids.

    A conversion found to have fewer Parts waiting than its share is shared
    out again with its true count, so no slot stays empty while another
    conversion has work.
    """
    fetched: dict[int, list[int]] = {}
    while True:
        share = fair_share(candidates=list(candidates.values()), free=free, spare=spare)
        for conversion_id, count in share.items():
            if len(fetched.get(conversion_id, ())) < count:
                waiting = Part.objects.filter(WAITING, conversion_id=conversion_id).order_by("index")
                fetched[conversion_id] = list(waiting.values_list("id", flat=True)[:count])
        short = [
            conversion_id for conversion_id, count in share.items() if len(fetched[conversion_id]) < count
        ]
        if not short:
            return {conversion_id: fetched[conversion_id][:count] for conversion_id, count in share.items()}
        for conversion_id in short:
            if fetched[conversion_id]:
                candidates[conversion_id] = replace(
                    candidates[conversion_id], waiting=len(fetched[conversion_id])
                )
            else:
                del candidates[conversion_id]  # its last Part was claimed since we looked


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
