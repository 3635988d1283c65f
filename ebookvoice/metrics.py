"""Prometheus metrics at ``/metrics``, for staff or a scraper holding ``METRICS_TOKEN``.

Two sources:

- Request latency, counted by ``RequestMetricsMiddleware`` in each web
  process. Under gunicorn with several workers set
  ``PROMETHEUS_MULTIPROC_DIR`` (compose does), so every process's counts are
  added up whichever process answers the scrape.
- Pipeline figures, computed at scrape time from the database and the broker
  by ``PipelineCollector``: queue depth here, and what the apps register with
  ``register_database_figures`` (``audiobooks.operators.metrics``: Parts
  rendered, × real time per engine, failures by kind, workers alive by their
  heartbeats). Nothing in the pipeline is instrumented, so a figure is the
  same whichever process asks.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ebookvoice.logs import view_name
from ebookvoice.queues import queue_depths

logger = logging.getLogger(__name__)

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


# What the apps read from the database at scrape time, each a function yielding
# metric families: registered by the app that owns the rows (``AudiobooksConfig.ready``).
FiguresProducer = Callable[[], Iterable[Metric]]
_DATABASE_FIGURES: list[FiguresProducer] = []


def register_database_figures(produce: FiguresProducer) -> None:
    """Add ``produce``'s metric families to every scrape, under the ``database`` source."""
    if produce not in _DATABASE_FIGURES:
        _DATABASE_FIGURES.append(produce)


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
        depth = GaugeMetricFamily(
            "ebookvoice_queue_depth", "Messages waiting in the broker, by Celery queue.", labels=["queue"]
        )
        for queue, messages in queue_depths().items():
            depth.add_metric([queue], messages)
        yield depth

    def _database(self) -> Iterator[Metric]:
        for produce in _DATABASE_FIGURES:
            yield from produce()


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
