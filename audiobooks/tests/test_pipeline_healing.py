"""The pipeline heals itself in seconds: lost messages, dead owners, closed conversions, storage blips.

Most of these drive the pipeline's own functions in this process against the
test database; the reaper's thread is shown in Celery beat's own process,
reaping while the light worker is held up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Conversion, ConversionChapter, Part, StoredObject
from audiobooks.operators.stats import reap_preview, totals, workers_from_heartbeats
from audiobooks.pipeline import observed
from audiobooks.pipeline.outcomes import conversion_fail
from audiobooks.pipeline.reaper import conversions_reap
from audiobooks.pipeline.render import cached_part_key, part_render
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.tests.conftest import REGION, GatedMotoServer
from audiobooks.tests.factories import story_book
from audiobooks.tests.s3gate import ACCESS_KEY, SECRET_KEY
from credits.models import CreditEntry, EntryKind
from credits.selectors import ledger_audit
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def pipeline_settings(settings: Any) -> None:
    settings.PIPELINE_SYNTHESIS_PROCESSES = 2
    settings.PIPELINE_MAX_PART_ATTEMPTS = 3
    # The heartbeat thread's own connection cannot see this test's uncommitted rows.
    settings.PIPELINE_HEARTBEAT_SECONDS = 3600
    settings.PIPELINE_UNCLAIMED_SECONDS = 20
    settings.PIPELINE_ASSEMBLY_SECONDS = 60
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}
    observed.forget()


def submitted(
    user: User, directory: Path, *, titles: tuple[str, ...] = ("One", "Two", "Three")
) -> Conversion:
    book = story_book(user, directory, titles=titles)
    credits_grant_by_system(user=user, hundredths=1_000, reason="test")
    return conversion_submit(
        user=user,
        book_uuid=book.uuid,
        chapter_indexes=list(book.chapters.values_list("index", flat=True)),
        voice_key=DEFAULT_VOICE,
        speed=1.0,
    )


def ago(seconds: float) -> Any:
    return timezone.now() - timedelta(seconds=seconds)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


class TestUnclaimedParts:
    def test_a_part_sent_and_not_claimed_within_the_floor_is_sent_again_while_a_slot_is_idle(
        self, owner, tmp_path
    ):
        conversion = submitted(owner, tmp_path, titles=("One",))
        part = conversion.parts.get()
        Part.objects.filter(pk=part.pk).update(dispatched_at=ago(21), task_id="lost")
        reaped = conversions_reap()
        part.refresh_from_db()
        assert (reaped.resent, reaped.dispatched) == (1, 1)
        assert part.task_id != "lost"
        assert part.dispatched_at > ago(5)

    def test_one_sent_more_recently_than_the_floor_waits(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path, titles=("One",))
        part = conversion.parts.get()
        Part.objects.filter(pk=part.pk).update(dispatched_at=ago(15), task_id="late")
        assert conversions_reap().resent == 0
        part.refresh_from_db()
        assert part.task_id == "late"

    def test_nothing_is_sent_again_while_every_synthesis_process_is_busy(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path)
        first, second, third = conversion.parts.order_by("index")
        for busy in (first, second):  # both processes render, with fresh heartbeats
            Part.objects.filter(pk=busy.pk).update(
                status=Part.Status.RUNNING, worker=f"busy:{busy.pk}", heartbeat_at=timezone.now()
            )
        Part.objects.filter(pk=third.pk).update(dispatched_at=ago(120), task_id="queued")
        assert conversions_reap().resent == 0
        assert reap_preview().resend == []
        Part.objects.filter(pk=second.pk).update(status=Part.Status.PENDING, worker="")  # a process is free
        assert reap_preview().resend == [third.pk]
        assert conversions_reap().resent == 1

    def test_the_wait_follows_the_observed_claim_latency(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path)
        first, second, third = conversion.parts.order_by("index")
        # Claims here take 30 s (a slow queue): a Part unclaimed for 60 s is only late.
        now = timezone.now()
        for done in (first, second):
            Part.objects.filter(pk=done.pk).update(
                status=Part.Status.DONE,
                duration_ms=1000,
                finished_at=now,
                dispatched_at=now - timedelta(seconds=200),
                started_at=now - timedelta(seconds=170),
            )
        assert observed.claim_latency_p99() == pytest.approx(30)
        assert observed.unclaimed_after() == timedelta(seconds=90)
        Part.objects.filter(pk=third.pk).update(dispatched_at=ago(60))
        assert conversions_reap().resent == 0
        Part.objects.filter(pk=third.pk).update(dispatched_at=ago(95))
        assert conversions_reap().resent == 1

    def test_a_wait_for_a_busy_process_is_queueing_not_claim_latency(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path)
        first, second, _ = conversion.parts.order_by("index")
        now = timezone.now()

        def done(part: Part, *, sent: int, claimed: int, finished: int) -> None:
            Part.objects.filter(pk=part.pk).update(
                status=Part.Status.DONE, duration_ms=1000, dispatched_at=now - timedelta(seconds=sent),
                started_at=now - timedelta(seconds=claimed), finished_at=now - timedelta(seconds=finished),
            )  # fmt: skip

        done(first, sent=100, claimed=96, finished=60)  # found a process free: 4 s
        done(second, sent=95, claimed=59, finished=10)  # waited 36 s for the first to finish
        assert observed.claim_latency_p99() == pytest.approx(4)
        assert observed.unclaimed_after() == timedelta(seconds=20)


class TestMasteringAndAssemblyResent:
    def mastering(self, conversion: Conversion, *, sent_seconds_ago: float) -> ConversionChapter:
        conversion.parts.update(status=Part.Status.DONE, duration_ms=1000, finished_at=timezone.now())
        Conversion.objects.filter(pk=conversion.pk).update(
            status=Conversion.Status.SYNTHESIZING, started_at=timezone.now()
        )
        chapter = conversion.selections.get()
        ConversionChapter.objects.filter(pk=chapter.pk).update(
            status=ConversionChapter.Status.MASTERING, sent_at=ago(sent_seconds_ago)
        )
        return chapter

    def test_a_chapter_whose_parts_are_done_and_not_picked_up_within_a_minute_is_sent_again(
        self, owner, tmp_path, django_capture_on_commit_callbacks
    ):
        conversion = submitted(owner, tmp_path, titles=("One",))
        chapter = self.mastering(conversion, sent_seconds_ago=61)
        with django_capture_on_commit_callbacks() as sent:
            assert conversions_reap().assembly_resent == 1
        assert len(sent) == 1
        chapter.refresh_from_db()
        assert chapter.sent_at > ago(5)

    def test_not_before_twice_the_observed_mastering_time(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path, titles=("One",))
        chapter = self.mastering(conversion, sent_seconds_ago=90)
        other = submitted(owner, tmp_path / "other", titles=("Other",))
        now = timezone.now()
        ConversionChapter.objects.filter(conversion=other).update(
            status=ConversionChapter.Status.READY, sent_at=now - timedelta(seconds=50), finished_at=now,
            gain_db=0.0, duration_ms=1000,
        )  # fmt: skip
        assert observed.mastering_resend_after() == timedelta(seconds=100)
        assert conversions_reap().assembly_resent == 0
        ConversionChapter.objects.filter(pk=chapter.pk).update(sent_at=ago(101))
        assert conversions_reap().assembly_resent == 1

    def test_a_book_not_picked_up_for_assembly_within_a_minute_is_sent_again(
        self, owner, tmp_path, django_capture_on_commit_callbacks
    ):
        conversion = submitted(owner, tmp_path, titles=("One",))
        Conversion.objects.filter(pk=conversion.pk).update(
            status=Conversion.Status.ASSEMBLING, started_at=ago(90), assembly_sent_at=ago(30)
        )
        assert conversions_reap().assembly_resent == 0
        Conversion.objects.filter(pk=conversion.pk).update(assembly_sent_at=ago(61))
        with django_capture_on_commit_callbacks() as sent:
            assert conversions_reap().assembly_resent == 1
        assert len(sent) == 1


class TestDeadOwner:
    def running(self, part: Part, *, worker: str, heartbeat_seconds_ago: float, attempts: int = 1) -> None:
        Part.objects.filter(pk=part.pk).update(
            status=Part.Status.RUNNING, worker=worker, attempts=attempts,
            heartbeat_at=ago(heartbeat_seconds_ago), dispatched_at=ago(heartbeat_seconds_ago),
        )  # fmt: skip

    def test_a_redelivered_part_whose_process_on_this_host_is_dead_is_taken_over_at_once(
        self, owner, tmp_path
    ):
        conversion = submitted(owner, tmp_path, titles=("One",))
        part = conversion.parts.get()
        self.running(part, worker=f"{socket.gethostname()}:{dead_pid()}", heartbeat_seconds_ago=0)
        part_render(part_id=part.pk, worker="redelivered:1")
        part.refresh_from_db()
        assert (part.status, part.attempts, part.worker) == (Part.Status.DONE, 2, "redelivered:1")

    def test_one_whose_heartbeat_is_older_than_two_beats_is_taken_over(self, owner, tmp_path, settings):
        settings.PIPELINE_HEARTBEAT_SECONDS = 5
        conversion = submitted(owner, tmp_path, titles=("One",))
        part = conversion.parts.get()
        self.running(part, worker="another-host:12", heartbeat_seconds_ago=11)
        part_render(part_id=part.pk, worker="redelivered:1")
        part.refresh_from_db()
        assert (part.status, part.worker) == (Part.Status.DONE, "redelivered:1")

    def test_a_live_owner_keeps_its_part(self, owner, tmp_path, settings):
        settings.PIPELINE_HEARTBEAT_SECONDS = 5
        conversion = submitted(owner, tmp_path, titles=("One",))
        part = conversion.parts.get()
        alive_here = f"{socket.gethostname()}:{os.getpid()}"
        for worker in (alive_here, "another-host:12"):
            self.running(part, worker=worker, heartbeat_seconds_ago=4)
            part_render(part_id=part.pk, worker="redelivered:1")
            part.refresh_from_db()
            assert (part.status, part.worker, part.attempts) == (Part.Status.RUNNING, worker, 1)

    def test_a_dead_owners_part_out_of_attempts_fails_the_conversion_once(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path, titles=("One",))
        part = conversion.parts.get()
        self.running(part, worker=f"{socket.gethostname()}:{dead_pid()}", heartbeat_seconds_ago=0, attempts=3)
        part_render(part_id=part.pk, worker="redelivered:1")
        part_render(part_id=part.pk, worker="redelivered:2")
        conversion.refresh_from_db()
        part.refresh_from_db()
        assert conversion.status == Conversion.Status.FAILED
        assert part.status == Part.Status.FAILED
        assert CreditEntry.objects.filter(kind=EntryKind.REFUND, conversion_uuid=conversion.uuid).count() == 1


class TestClosedConversionsLeaveNothingOpen:
    def test_cancel_moves_every_open_part_to_cancelled_and_stats_show_nothing_left(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path)
        first, second, _ = conversion.parts.order_by("index")
        part_render(part_id=first.pk, worker="test:1")
        Part.objects.filter(pk=second.pk).update(
            status=Part.Status.RUNNING, worker="gone:1", heartbeat_at=ago(600)
        )
        conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        statuses = dict(conversion.parts.values_list("index", "status"))
        assert sorted(statuses.values()) == [Part.Status.CANCELLED, Part.Status.CANCELLED, Part.Status.DONE]
        figures = totals()
        assert (figures.parts["pending"], figures.parts["running"]) == (0, 0)
        assert figures.parts["cancelled"] == 2
        assert workers_from_heartbeats() == []  # no stale worker left for an alert to fire on
        assert not ledger_audit().mismatches

    def test_a_failure_moves_the_other_open_parts_to_skipped(self, owner, tmp_path):
        conversion = submitted(owner, tmp_path)
        assert conversion_fail(conversion_id=conversion.pk, message="The voice broke.")
        assert set(conversion.parts.values_list("status", flat=True)) == {Part.Status.SKIPPED}
        assert totals().parts["pending"] == 0
        assert CreditEntry.objects.filter(kind=EntryKind.REFUND, conversion_uuid=conversion.uuid).count() == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def s3_storage_at(settings: Any, endpoint: str, bucket: str) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket, "endpoint_url": endpoint, "region_name": REGION,
                "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "signature_version": "s3v4",
                "default_acl": None, "file_overwrite": False,
            },
        },
    }  # fmt: skip


def test_storage_out_of_reach_after_a_render_is_retried_without_costing_an_attempt_or_the_audio(
    owner, tmp_path, settings, s3, caplog
):
    """The Part's store fails twice (nothing listens on storage's port), then the server is back."""
    conversion = submitted(owner, tmp_path, titles=("One",))
    part = conversion.parts.get()
    port = free_port()
    s3_storage_at(settings, f"http://127.0.0.1:{port}", s3.bucket)  # moto keeps one state per process
    server = GatedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def back_after_two_failed_stores() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sum("storing Part" in record.getMessage() for record in list(caplog.records)) >= 2:
                break
            time.sleep(0.05)
        server.start()

    comes_back = threading.Thread(target=back_after_two_failed_stores)
    comes_back.start()
    try:
        part_render(part_id=part.pk, worker="test:1")
    finally:
        comes_back.join()
        server.stop()
    part.refresh_from_db()
    assert (part.status, part.attempts) == (Part.Status.DONE, 1)
    assert f"storing Part {part.pk} failed" in caplog.text
    assert StoredObject.objects.filter(key=cached_part_key(part.cache_key)).exists()
    assert cached_part_key(part.cache_key) in s3.object_keys()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_the_reaper_runs_in_beats_process_while_the_light_worker_is_held_up(owner, tmp_path, settings):
    """The light worker stopped, as a 60 s assembly holds it; beat's reaper still requeues and sends.

    A Part's worker vanished and its message with it: only the reaper can
    find it (stale heartbeat → pending → dispatched), and it must do so while
    nothing on the light queue runs.
    """
    import redis as redis_client

    from tests.celery_processes import CeleryProcesses, PrivateRedis, app_using_broker

    settings.PIPELINE_SYNTHESIS_PROCESSES = 1
    environment = {
        "PIPELINE_HEARTBEAT_SECONDS": "1",
        "PIPELINE_STALE_SECONDS": "3",
        "PIPELINE_REAP_EVERY_SECONDS": "1",
    }
    broker = PrivateRedis(tmp_path / "redis")
    broker.start()
    processes = CeleryProcesses(
        broker_url=broker.url, workdir=tmp_path, environment=environment, synthesis_processes=1,
        separate_beat=True,
    )  # fmt: skip
    try:
        with app_using_broker(broker.url):
            processes.start("light")
            processes.wait_ready("light")
            light = processes.processes["light"].pid
            os.killpg(light, signal.SIGSTOP)  # held, as by a long assembly
            try:
                conversion = submitted(owner, tmp_path / "book", titles=("One",))
                part = conversion.parts.get()
                client = redis_client.Redis(unix_socket_path=broker.url.removeprefix("unix://"))
                queue = f"{settings.CELERY_BROKER_TRANSPORT_OPTIONS['global_keyprefix']}synthesis"
                deadline = time.monotonic() + 10
                while client.llen(queue) != 1:  # the Part's message, sent on commit, taken by nobody yet
                    assert time.monotonic() < deadline, "the Part's message never reached the broker"
                    time.sleep(0.05)
                client.delete(queue)  # lost with its worker
                Part.objects.filter(pk=part.pk).update(
                    status=Part.Status.RUNNING, worker="gone:1", attempts=1, heartbeat_at=ago(60),
                    dispatched_at=ago(60), task_id="lost",
                )  # fmt: skip
                processes.start("beat")
                processes.start("synthesis")
                held_since = time.monotonic()
                while not Part.objects.filter(pk=part.pk, status=Part.Status.DONE).exists():
                    assert time.monotonic() - held_since < 90, "no reaping while the light worker was held"
                    time.sleep(0.2)
                part.refresh_from_db()
                assert part.attempts == 2
                assert processes.processes["light"].poll() is None  # still held, all along
            finally:
                os.killpg(light, signal.SIGCONT)
    finally:
        processes.stop_all()
        broker.stop()


@pytest.mark.django_db(databases=[])
def test_workers_keep_rendering_through_a_broker_loss_and_reconnect_for_as_long_as_it_takes() -> None:
    """Celery 6 would cancel running tasks on a lost broker: a Part would be thrown away mid-render."""
    from ebookvoice.celery import app

    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False
    assert app.conf.broker_connection_retry is True
    assert app.conf.broker_connection_max_retries is None
    # What a task prints (the local mail line) is logged as information, not as a warning.
    assert app.conf.worker_redirect_stdouts_level == "INFO"
