"""Prometheus metrics at ``/metrics``, for staff or a scraper holding ``METRICS_TOKEN``.

Two sources:

- Request latency, counted by ``RequestMetricsMiddleware`` in each web
  process. Under gunicorn with several workers set
  ``PROMETHEUS_MULTIPROC_DIR`` (compose does), so every process's counts are
  added up whichever process answers the scrape.
- Pipeline figures, computed at scrape time from the database and the broker
  by ``PipelineCollector``: queue depth, Parts rendered, × real time per
  engine, failures by kind, workers alive by their heartbeats. Nothing in the
  pipeline is instrumented, so a figure is the same whichever process asks.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ebookvoice.logs import view_name

logger = logging.getLogger(__name__)

# The × real time gauge covers Parts finished this recently, so it follows today's hardware.
THROUGHPUT_WINDOW = timedelta(hours=1)

REQUEST_LATENCY = Histogram(
    "ebookvoice_http_request_duration_seconds",
    "Time to answer a request, by route name (never the raw path), method and status class.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        REQUEST_LATENCY.labels(
            view=view_name(request), method=request.method or "", status=f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
        return response


class PipelineCollector(Collector):
    """Figures read at scrape time; a source that cannot be read is left out and reported as down."""

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily(
            "ebookvoice_metrics_source_up",
            "1 when the source could be read for this scrape.",
            labels=["source"],
        )
        for source, produce in (("broker", self._queues), ("database", self._database)):
            try:
                yield from produce()
                errors.add_metric([source], 1)
            except Exception:
                logger.warning("metrics: could not read %s", source, exc_info=True)
                errors.add_metric([source], 0)
        yield errors

    def _queues(self) -> Iterator[Metric]:
        from ebookvoice.queues import queue_depths

        depth = GaugeMetricFamily(
            "ebookvoice_queue_depth", "Messages waiting in the broker, by Celery queue.", labels=["queue"]
        )
        for queue, messages in queue_depths().items():
            depth.add_metric([queue], messages)
        yield depth

    def _database(self) -> Iterator[Metric]:
        from audiobooks import stats

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


def render_metrics() -> bytes:
    pipeline = CollectorRegistry(auto_describe=False)
    pipeline.register(PipelineCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        web = CollectorRegistry()
        MultiProcessCollector(web)
    else:
        web = REGISTRY
    return generate_latest(web) + generate_latest(pipeline)


def _authorised(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip(), token)


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: staff signed in, or ``Authorization: Bearer <METRICS_TOKEN>``; else 403."""
    if not _authorised(request):
        return HttpResponse(
            "Metrics are for staff, or for a scraper sending Authorization: Bearer <METRICS_TOKEN>.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
