"""Timings the pipeline measured on itself, for timeouts that follow the machine instead of a guess.

The reaper sends work again once it has waited clearly longer than work
usually waits: a Part not claimed within 3 × the p99 claim latency (sent →
claimed), a chapter not mastered within 2 × the p99 mastering time, a book
not assembled within 2 × the p99 assembly time, each never below its floor
(``PIPELINE_UNCLAIMED_SECONDS``, ``PIPELINE_ASSEMBLY_SECONDS``). Each figure is
read from the most recent rows and kept for a minute in the process, so the
reaper's tick costs three small queries a minute.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db.models import DurationField, ExpressionWrapper, F

from audiobooks.models import Conversion, ConversionChapter, Part

from . import conf

SAMPLE = 500  # the most recent rows each figure is taken from
KEEP_SECONDS = 60.0
CLAIM_FACTOR = 3
ASSEMBLY_FACTOR = 2

_cache: dict[str, tuple[float, float | None]] = {}
_lock = threading.Lock()


def p99(seconds: Iterable[float]) -> float | None:
    """The 99th percentile (nearest rank) of ``seconds``; None for no sample."""
    ordered = sorted(value for value in seconds if value >= 0)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def _remembered(name: str, measure: Callable[[], float | None]) -> float | None:
    now = time.monotonic()
    with _lock:
        kept = _cache.get(name)
        if kept is not None and now - kept[0] < KEEP_SECONDS:
            return kept[1]
    value = measure()
    with _lock:
        _cache[name] = (now, value)
    return value


def forget() -> None:
    """Measure again at the next call (tests, and after settings change)."""
    with _lock:
        _cache.clear()


def _durations(rows: Iterable[timedelta | None]) -> list[float]:
    return [row.total_seconds() for row in rows if row is not None]


def claim_latency_p99() -> float | None:
    """Seconds from a Part's last send to its claim, over recently claimed Parts that found a slot free.

    A Part sent while every process rendered waits in the broker for one to
    finish: that wait is queueing, not the broker's latency, and it is left
    out (some Part finished while it waited). What remains is how long a
    message takes to reach an idle process, the figure the reaper's "sent,
    not claimed, while a process is idle" rule needs.
    """

    def measure() -> float | None:
        rows: list[tuple[datetime, datetime]] = [
            (sent, claimed)
            for sent, claimed in Part.objects.filter(
                started_at__isnull=False, dispatched_at__isnull=False, started_at__gte=F("dispatched_at")
            )
            .order_by("-started_at")
            .values_list("dispatched_at", "started_at")[:SAMPLE]
            if sent is not None and claimed is not None
        ]
        if not rows:
            return None
        oldest = min(sent for sent, _ in rows)
        finishes = sorted(
            finished
            for finished in Part.objects.filter(finished_at__gte=oldest).values_list(
                "finished_at", flat=True
            )[: SAMPLE * 4]
            if finished is not None
        )
        waits = [
            (claimed - sent).total_seconds()
            for sent, claimed in rows
            if bisect.bisect_right(finishes, claimed) == bisect.bisect_left(finishes, sent)
        ]
        return p99(waits)

    return _remembered("claim", measure)


def mastering_p99() -> float | None:
    """Seconds from a chapter's claim by mastering (its last ``sent_at``) to ready."""

    def measure() -> float | None:
        took = ExpressionWrapper(F("finished_at") - F("sent_at"), output_field=DurationField())
        rows = (
            ConversionChapter.objects.filter(status=ConversionChapter.Status.READY, sent_at__isnull=False)
            .order_by("-finished_at")
            .annotate(took=took)
            .values_list("took", flat=True)[:SAMPLE]
        )
        return p99(_durations(rows))

    return _remembered("mastering", measure)


def assembly_p99() -> float | None:
    """Seconds from a book's claim by assembly (its last ``assembly_sent_at``) to completed."""

    def measure() -> float | None:
        took = ExpressionWrapper(F("finished_at") - F("assembly_sent_at"), output_field=DurationField())
        rows = (
            Conversion.objects.filter(status=Conversion.Status.COMPLETED, assembly_sent_at__isnull=False)
            .order_by("-finished_at")
            .annotate(took=took)
            .values_list("took", flat=True)[:SAMPLE]
        )
        return p99(_durations(rows))

    return _remembered("assembly", measure)


def _at_least(floor: timedelta, observed: float | None, factor: int) -> timedelta:
    if observed is None:
        return floor
    return max(floor, timedelta(seconds=factor * observed))


def unclaimed_after() -> timedelta:
    """A Part sent this long ago and still not claimed lost its message: max(floor, 3 × p99 claim latency)."""
    return _at_least(conf.unclaimed_after(), claim_latency_p99(), CLAIM_FACTOR)


def mastering_resend_after() -> timedelta:
    """max(floor, 2 × p99 mastering time)."""
    return _at_least(conf.assembly_resend_after(), mastering_p99(), ASSEMBLY_FACTOR)


def assembly_resend_after() -> timedelta:
    """max(floor, 2 × p99 assembly time)."""
    return _at_least(conf.assembly_resend_after(), assembly_p99(), ASSEMBLY_FACTOR)
