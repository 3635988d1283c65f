"""The pipeline's figures as Prometheus metric families, read from the database at every scrape.

Registered with ``ebookvoice.metrics`` by ``AudiobooksConfig.ready``; the
figures themselves are ``stats``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import stats

# The × real time gauge covers Parts finished this recently, so it follows today's hardware.
THROUGHPUT_WINDOW = timedelta(hours=1)


def pipeline_metrics() -> Iterator[Metric]:
    rendered = CounterMetricFamily(
        "ebookvoice_parts_rendered", "Parts rendered (done), by engine.", labels=["engine"]
    )
    for engine, count in stats.parts_rendered_by_engine().items():
        rendered.add_metric([engine], count)
    yield rendered

    factor = GaugeMetricFamily(
        "ebookvoice_realtime_factor",
        "Seconds of audio per second of rendering, over Parts finished in the last hour, by engine.",
        labels=["engine"],
    )
    audio = CounterMetricFamily(
        "ebookvoice_audio_rendered_seconds", "Seconds of audio rendered, by engine.", labels=["engine"]
    )
    for row in stats.throughput_by_engine(since=timezone.now() - THROUGHPUT_WINDOW):
        if row.realtime_factor is not None:
            factor.add_metric([row.engine], row.realtime_factor)
    for row in stats.throughput_by_engine():
        audio.add_metric([row.engine], row.audio_seconds)
    yield factor
    yield audio

    failed = stats.failures()
    failures = CounterMetricFamily(
        "ebookvoice_failures",
        "Failures by stage (ingestion, part, conversion) and kind (the book's error code; "
        "worker_lost or render_error for Parts).",
        labels=["stage", "kind"],
    )
    for code, n in failed.ingestion.items():
        failures.add_metric(["ingestion", code], n)
    for kind, n in failed.parts.items():
        failures.add_metric(["part", kind], n)
    failures.add_metric(["conversion", "failed"], failed.conversions)
    yield failures

    totals = stats.totals()
    conversions = GaugeMetricFamily("ebookvoice_conversions", "Conversions by status.", labels=["status"])
    for status, n in totals.conversions.items():
        conversions.add_metric([status], n)
    yield conversions
    parts = GaugeMetricFamily("ebookvoice_parts", "Parts by status.", labels=["status"])
    for status, n in totals.parts.items():
        parts.add_metric([status], n)
    yield parts

    workers = stats.workers_from_heartbeats()
    alive = GaugeMetricFamily(
        "ebookvoice_workers_rendering",
        "Workers holding a running Part, by whether their heartbeat is fresh.",
        labels=["heartbeat"],
    )
    alive.add_metric(["fresh"], sum(w.alive for w in workers))
    alive.add_metric(["stale"], sum(not w.alive for w in workers))
    yield alive
