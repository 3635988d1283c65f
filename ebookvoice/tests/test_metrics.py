"""The Prometheus endpoint: who may read it, and the figures it exposes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import User
from audiobooks.models import Book, Conversion, Part

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-metrics-token-" + "x" * 20


@pytest.fixture
def scraper(settings) -> Client:
    settings.METRICS_TOKEN = TOKEN
    return Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def samples(response) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def rendered(owner: User, voice_key: str, *, audio_s: float, render_s: float, error: str = "") -> None:
    """A conversion with one Part, done (or failed) as a worker records it."""
    book = Book.objects.create(
        owner=owner, original_key=f"k{uuid.uuid4()}", original_filename="a.epub", original_size=1
    )
    chapter = book.chapters.create(index=0, title="One", text="Hello.", words=1, chars=6)
    now = timezone.now()
    conversion = Conversion.objects.create(
        owner=owner, book=book, voice_key=voice_key, speed=1.0, characters=6, charge_hundredths=0,
        status=Conversion.Status.SYNTHESIZING, started_at=now,
    )  # fmt: skip
    Part.objects.create(
        conversion=conversion, chapter=chapter, index=0, chapter_part_index=0, text="Hello.", characters=6,
        cache_key="0" * 64, status=Part.Status.FAILED if error else Part.Status.DONE, error=error,
        started_at=now - timedelta(seconds=render_s), finished_at=now,
        duration_ms=None if error else int(audio_s * 1000),
    )  # fmt: skip


def test_metrics_are_refused_to_visitors_readers_and_a_wrong_token(client, owner, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/metrics").status_code == 403
    client.force_login(owner)
    assert client.get("/metrics").status_code == 403


def test_without_a_token_configured_no_bearer_gets_in(settings):
    settings.METRICS_TOKEN = ""
    assert Client(HTTP_AUTHORIZATION="Bearer ").get("/metrics").status_code == 403


def test_staff_signed_in_can_read_the_metrics(client, staff):
    client.force_login(staff)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_the_metrics_expose_request_latency_queues_parts_times_real_time_and_failures(scraper, owner):
    rendered(owner, "piper:en_US-joe-medium", audio_s=100, render_s=10)
    rendered(owner, "piper:en_US-joe-medium", audio_s=50, render_s=10)
    rendered(owner, "coqui:vits", audio_s=30, render_s=60)
    rendered(owner, "piper:en_US-joe-medium", audio_s=0, render_s=1, error="EngineError: boom")
    Book.objects.create(
        owner=owner, original_key="bad", original_filename="b.epub", original_size=1,
        status=Book.Status.FAILED, error_code="drm", error_message="This book is protected by DRM.",
    )  # fmt: skip
    scraper.get("/")  # one request to be timed

    found = samples(scraper.get("/metrics"))

    assert found[("ebookvoice_parts_rendered_total", (("engine", "piper"),))] == 2
    assert found[("ebookvoice_parts_rendered_total", (("engine", "coqui"),))] == 1
    assert found[("ebookvoice_realtime_factor", (("engine", "piper"),))] == pytest.approx(7.5, abs=0.1)
    assert found[("ebookvoice_realtime_factor", (("engine", "coqui"),))] == pytest.approx(0.5, abs=0.05)
    assert found[("ebookvoice_failures_total", (("kind", "drm"), ("stage", "ingestion")))] == 1
    assert found[("ebookvoice_failures_total", (("kind", "render_error"), ("stage", "part")))] == 1
    assert found[("ebookvoice_failures_total", (("kind", "worker_lost"), ("stage", "part")))] == 0
    assert ("ebookvoice_queue_depth", (("queue", "light"),)) in found
    assert ("ebookvoice_queue_depth", (("queue", "synthesis"),)) in found
    assert found[("ebookvoice_metrics_source_up", (("source", "database"),))] == 1
    assert found[("ebookvoice_metrics_source_up", (("source", "broker"),))] == 1
    home = (("method", "GET"), ("status", "2xx"), ("view", "home"))
    assert found[("ebookvoice_http_request_duration_seconds_count", home)] >= 1


def test_a_broker_outage_leaves_the_queue_depth_out_and_says_so(scraper, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    found = samples(scraper.get("/metrics"))
    assert found[("ebookvoice_metrics_source_up", (("source", "broker"),))] == 0
    assert not [key for key in found if key[0] == "ebookvoice_queue_depth"]
    assert found[("ebookvoice_metrics_source_up", (("source", "database"),))] == 1
