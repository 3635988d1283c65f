"""Operators' figures, read from the database: the ``stats`` command, the status page and the metrics.

Nothing here is instrumented in the pipeline: every figure is a query over
the rows the pipeline already keeps (Parts with their timings, conversions,
books), so a figure is the same whichever process asks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, Sum
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Book, Conversion, ConversionChapter, Part
from audiobooks.pipeline import conf, observed
from audiobooks.pipeline.dispatch import IN_FLIGHT, WAITING, runnable_conversions
from audiobooks.pipeline.outcomes import WORKER_LOST
from audiobooks.pipeline.reaper import slot_idle


def status_figures(staff: bool) -> dict[str, Any]:
    """What the status page (``ebookvoice.status``) shows of the pipeline; workers and throughput to staff."""
    heartbeats = workers_from_heartbeats()
    figures: dict[str, Any] = {
        "active_conversions": active_conversions(),
        "workers_rendering": sum(worker.alive for worker in heartbeats),
    }
    if staff:
        figures["workers_heartbeats"] = [asdict(worker) for worker in heartbeats]
        figures["throughput"] = [
            {**asdict(row), "realtime_factor": row.realtime_factor} for row in throughput_by_engine()
        ]
    return figures


def engine_of(voice_key: str) -> str:
    """``"piper:en_US-joe-medium"`` → ``"piper"``."""
    return voice_key.partition(":")[0] or "unknown"


@dataclass(frozen=True)
class EngineThroughput:
    engine: str
    parts: int
    audio_seconds: float
    render_seconds: float

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio made per second of rendering (× real time); None before any render time."""
        return round(self.audio_seconds / self.render_seconds, 2) if self.render_seconds > 0 else None


def throughput_by_engine(*, since: datetime | None = None) -> list[EngineThroughput]:
    """Rendered Parts per engine: audio seconds over render seconds (``finished_at - started_at``).

    Parts found in the render cache are left out: they took no rendering.
    """
    render = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    done = Part.objects.filter(
        status=Part.Status.DONE,
        from_cache=False,
        started_at__isnull=False,
        finished_at__isnull=False,
        duration_ms__isnull=False,
    )
    if since is not None:
        done = done.filter(finished_at__gte=since)
    rows = done.values("conversion__voice_key").annotate(
        parts=Count("id"), audio_ms=Sum("duration_ms"), render=Sum(render)
    )
    parts: Counter[str] = Counter()
    audio: defaultdict[str, float] = defaultdict(float)
    rendered: defaultdict[str, float] = defaultdict(float)
    for row in rows:
        engine = engine_of(row["conversion__voice_key"])
        parts[engine] += row["parts"]
        audio[engine] += (row["audio_ms"] or 0) / 1000
        rendered[engine] += row["render"].total_seconds() if row["render"] else 0.0
    return [
        EngineThroughput(engine, parts[engine], round(audio[engine], 3), round(rendered[engine], 3))
        for engine in sorted(parts)
    ]


@dataclass(frozen=True)
class WorkerSeen:
    """A worker known from the Parts it claimed: alive while its heartbeat is fresh."""

    worker: str
    running: int
    last_heartbeat: datetime | None
    alive: bool


def workers_from_heartbeats(*, now: datetime | None = None) -> list[WorkerSeen]:
    """Workers with a running Part, newest heartbeat first; stale ones are what the reaper requeues."""
    now = now or timezone.now()
    fresh_after = now - conf.stale_after()
    rows = (
        Part.objects.filter(status=Part.Status.RUNNING)
        .exclude(worker="")
        .values("worker")
        .annotate(running=Count("id"), last=Max("heartbeat_at"))
        .order_by("-last")
    )
    return [
        WorkerSeen(
            row["worker"], row["running"], row["last"], bool(row["last"] and row["last"] >= fresh_after)
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Failures:
    """Failures by where they happened and what kind they were."""

    ingestion: dict[str, int] = field(default_factory=dict)  # by the book's error_code
    parts: dict[str, int] = field(default_factory=dict)  # "worker_lost" or "render_error"
    conversions: int = 0


def failures() -> Failures:
    ingestion = dict(
        Book.objects.filter(status=Book.Status.FAILED)
        .values_list("error_code")
        .annotate(n=Count("id"))
        .order_by("error_code")
    )
    failed_parts = Part.objects.filter(status=Part.Status.FAILED)
    lost = failed_parts.filter(error=WORKER_LOST).count()
    parts = {"worker_lost": lost, "render_error": failed_parts.count() - lost}
    return Failures(
        ingestion={code or "unknown": n for code, n in ingestion.items()},
        parts=parts,
        conversions=Conversion.objects.filter(status=Conversion.Status.FAILED).count(),
    )


@dataclass(frozen=True)
class Totals:
    users: int
    books: int
    conversions: dict[str, int]
    parts: dict[str, int]
    hours_rendered: float  # audio of every done Part
    hours_delivered: float  # audio of every completed conversion's M4B


def totals() -> Totals:
    conversions = dict(Conversion.objects.values_list("status").annotate(n=Count("id")).order_by("status"))
    parts = dict(Part.objects.values_list("status").annotate(n=Count("id")).order_by("status"))
    rendered_ms = Part.objects.filter(status=Part.Status.DONE).aggregate(ms=Sum("duration_ms"))["ms"] or 0
    delivered_ms = (
        Conversion.objects.filter(status=Conversion.Status.COMPLETED).aggregate(ms=Sum("duration_ms"))["ms"]
        or 0
    )
    return Totals(
        users=User.objects.filter(is_active=True).count(),
        books=Book.objects.count(),
        conversions={status: conversions.get(status, 0) for status in Conversion.Status.values},
        parts={status: parts.get(status, 0) for status in Part.Status.values},
        hours_rendered=round(rendered_ms / 3_600_000, 3),
        hours_delivered=round(delivered_ms / 3_600_000, 3),
    )


def parts_rendered_by_engine() -> dict[str, int]:
    rows = (
        Part.objects.filter(status=Part.Status.DONE)
        .values_list("conversion__voice_key")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: Counter[str] = Counter()
    for voice_key, n in rows:
        counts[engine_of(voice_key)] += n
    return dict(sorted(counts.items()))


def active_conversions() -> int:
    return Conversion.objects.filter(status__in=Conversion.ACTIVE).count()


# What conversions_reap() would do now, read without changing anything: the
# same conditions, for ``requeue_stuck --dry-run``.


@dataclass(frozen=True)
class ReapPreview:
    requeue: list[int]  # stale heartbeat, attempts left: back to pending
    fail: list[int]  # stale heartbeat, out of attempts: fails its conversion
    resend: list[int]  # sent but never claimed: sent again
    chapters_resend: list[int]  # mastering not done long after it was sent
    books_resend: list[int]  # M4B assembly not done long after it was sent
    dispatch_up_to: int  # then the dispatcher fills this many free slots, at most


def reap_preview(*, now: datetime | None = None) -> ReapPreview:
    now = now or timezone.now()
    stale = Part.objects.filter(
        runnable_conversions(), status=Part.Status.RUNNING, heartbeat_at__lt=now - conf.stale_after()
    )
    out_of_attempts = Q(attempts__gte=conf.max_attempts())
    unclaimed = Part.objects.filter(
        runnable_conversions(), status=Part.Status.PENDING, dispatched_at__lt=now - observed.unclaimed_after()
    )
    if not slot_idle(now=now):
        unclaimed = unclaimed.none()
    requeue = list(stale.exclude(out_of_attempts).order_by("id").values_list("id", flat=True))
    resend = list(unclaimed.order_by("id").values_list("id", flat=True))
    live = Part.objects.filter(runnable_conversions())
    # Requeued and resent Parts leave the broker's count and wait to be sent again.
    in_flight = live.filter(IN_FLIGHT).count() - len(requeue) - len(resend)
    waiting = live.filter(WAITING).count() + len(requeue) + len(resend)
    return ReapPreview(
        requeue=requeue,
        fail=list(stale.filter(out_of_attempts).order_by("id").values_list("id", flat=True)),
        resend=resend,
        chapters_resend=list(
            ConversionChapter.objects.filter(
                status=ConversionChapter.Status.MASTERING,
                sent_at__lt=now - observed.mastering_resend_after(),
                conversion__status=Conversion.Status.SYNTHESIZING,
            )
            .order_by("id")
            .values_list("id", flat=True)
        ),
        books_resend=list(
            Conversion.objects.filter(
                status=Conversion.Status.ASSEMBLING,
                assembly_sent_at__lt=now - observed.assembly_resend_after(),
            )
            .order_by("id")
            .values_list("id", flat=True)
        ),
        dispatch_up_to=max(0, min(conf.in_flight_limit() - in_flight, waiting)),
    )
