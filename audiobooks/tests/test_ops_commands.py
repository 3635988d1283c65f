"""The operators' commands: ``stats`` (figures, queues, × real time) and ``requeue_stuck`` (the reaper)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from celery import Celery
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone

from audiobooks.models import Book, Conversion, ConversionChapter, Part
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.tests.factories import CORPUS, ingest_now, upload_file
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h", "upload": "1000/h"}


@pytest.fixture
def own_broker_prefix(settings: Any) -> str:
    """Queues of this test's own, so a worker another test started cannot drain them."""
    prefix = f"ebv-ops-{uuid.uuid4().hex[:8]}:"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": prefix,
    }
    return prefix


@pytest.fixture
def book(owner) -> Book:
    book = upload_file(owner, CORPUS / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    credits_grant_by_system(user=owner, hundredths=2000, reason="test float")
    return Book.objects.get(pk=book.pk)


def convert(owner, book: Book, position: int = 0) -> Conversion:
    index = book.chapters.filter(included=True).values_list("index", flat=True)[position]
    return conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[index], voice_key=DEFAULT_VOICE, speed=1.0
    )


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def render(conversion: Conversion, *, audio_s: float, render_s: float) -> None:
    """Record the first Part as done: what a worker writes when it finishes one."""
    now = timezone.now()
    part = conversion.parts.order_by("index")[0]
    Conversion.objects.filter(pk=conversion.pk).update(status=Conversion.Status.SYNTHESIZING, started_at=now)
    Part.objects.filter(pk=part.pk).update(
        status=Part.Status.DONE,
        attempts=1,
        started_at=now - timedelta(seconds=render_s),
        finished_at=now,
        duration_ms=int(audio_s * 1000),
    )


def test_stats_reports_users_books_hours_queue_depth_and_times_real_time_per_engine(
    owner, stranger, book, own_broker_prefix
):
    render(convert(owner, book), audio_s=360, render_s=30)
    render(convert(owner, book, 1), audio_s=180, render_s=30)
    # Three messages sent by Celery itself (one with a priority, kept in a list of its own) under the prefix.
    sender = Celery(broker=django_settings.CELERY_BROKER_URL, set_as_current=False)
    sender.conf.broker_transport_options = {"global_keyprefix": own_broker_prefix}
    sender.send_task("ebookvoice.ping", queue="light")
    sender.send_task("ebookvoice.ping", queue="light", priority=6)
    sender.send_task("ebookvoice.ping", queue="synthesis")

    data = json.loads(run("stats", "--json"))
    assert data["users"] == 2
    assert data["books"] == 1
    assert data["conversions"]["synthesizing"] == 2
    assert data["parts"]["done"] == 2
    assert data["hours_rendered"] == pytest.approx(540 / 3600, abs=1e-3)
    assert data["queues"] == {"light": 2, "synthesis": 1}
    [piper] = data["throughput"]
    assert (piper["engine"], piper["parts"]) == ("piper", 2)
    assert piper["audio_seconds"] == pytest.approx(540)
    assert piper["render_seconds"] == pytest.approx(60, abs=0.5)
    assert piper["realtime_factor"] == pytest.approx(9.0, abs=0.1)

    text = run("stats").splitlines()
    assert "queues: light 2, synthesis 1" in text
    assert text[-1] == "2 users, 1 books, 0.15 hours rendered, 3 messages queued, 9.0× real time overall."


def test_stats_says_when_the_broker_cannot_be_reached_and_still_prints_the_rest(owner, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    text = run("stats").splitlines()
    assert "queues: broker unavailable" in text
    assert text[-1] == "1 users, 0 books, 0.00 hours rendered, ? messages queued, nothing rendered yet."
    assert json.loads(run("stats", "--json"))["queues"] is None


def stale(conversion: Conversion, *, attempts: int, minutes: int = 10) -> Part:
    """The first Part claimed by a worker that has not beaten its heart for ``minutes``."""
    long_ago = timezone.now() - timedelta(minutes=minutes)
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.SYNTHESIZING, started_at=long_ago
    )
    part = conversion.parts.order_by("index")[0]
    Part.objects.filter(pk=part.pk).update(
        status=Part.Status.RUNNING,
        attempts=attempts,
        worker="cpu@gone-1",
        heartbeat_at=long_ago,
        started_at=long_ago,
        dispatched_at=long_ago,
    )
    return part


def snapshot() -> list[list[Any]]:
    parts = list(
        Part.objects.order_by("id").values_list("id", "status", "attempts", "worker", "dispatched_at")
    )
    conversions = list(Conversion.objects.order_by("id").values_list("id", "status"))
    chapters = list(ConversionChapter.objects.order_by("id").values_list("id", "status", "sent_at"))
    return [parts, conversions, chapters]


def test_requeue_stuck_dry_run_lists_what_the_reaper_would_do_and_changes_nothing(owner, book):
    again = stale(convert(owner, book), attempts=1)
    lost = stale(convert(owner, book, 1), attempts=3)
    before = snapshot()

    out = run("requeue_stuck", "--dry-run").splitlines()

    assert snapshot() == before
    assert f"would handle 1 Parts with a heartbeat older than 20 s to requeue: {again.pk}" in out
    assert f"would handle 1 Parts out of their 3 attempts to fail: {lost.pk}" in out
    assert out[-1].startswith("Dry run, nothing changed: would requeue 1, fail 1, resend 0 Parts")


def test_requeue_stuck_runs_the_reaper_and_does_what_the_dry_run_said(owner, book):
    again = stale(convert(owner, book), attempts=1)
    lost = stale(convert(owner, book, 1), attempts=3)
    preview = run("requeue_stuck", "--dry-run").splitlines()[-1]
    assert "would requeue 1, fail 1, resend 0 Parts" in preview

    out = run("requeue_stuck").splitlines()

    assert out[-1].startswith("Requeued 1, failed 1, resent 0 Parts")
    again.refresh_from_db()
    lost.refresh_from_db()
    assert (again.status, again.worker) == (Part.Status.PENDING, "")
    assert lost.status == Part.Status.FAILED
    assert lost.conversion.status == Conversion.Status.FAILED
    assert (
        run("requeue_stuck", "--dry-run")
        .splitlines()[-1]
        .startswith("Dry run, nothing changed: would requeue 0, fail 0, resend 0 Parts")
    )


def test_requeue_stuck_leaves_a_part_whose_heartbeat_is_fresh_alone(owner, book):
    fresh = stale(convert(owner, book), attempts=1, minutes=0)
    assert "would requeue 0, fail 0" in run("requeue_stuck", "--dry-run")
    run("requeue_stuck")
    fresh.refresh_from_db()
    assert fresh.status == Part.Status.RUNNING


def test_both_commands_explain_themselves():
    from audiobooks.management.commands import requeue_stuck, stats

    assert "--dry-run" in requeue_stuck.Command.help
    assert "PIPELINE_STALE_SECONDS" in requeue_stuck.Command.help
    assert "× real time" in stats.Command.help
