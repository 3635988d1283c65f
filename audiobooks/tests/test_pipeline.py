"""The pipeline's steps run in this process: dispatch, claim, render cache, mastering, reaper, outcomes.

Each step is called directly; on-commit callbacks (the messages a step would
send) are captured and inspected instead of being published. The same steps
run on real worker processes in ``test_pipeline_worker.py`` and
``tests/test_pipeline_reliability.py``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Book, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.pipeline.assemble import conversion_assemble
from audiobooks.pipeline.dispatch import Candidate, fair_share, parts_dispatch
from audiobooks.pipeline.heartbeat import Heartbeat
from audiobooks.pipeline.mastering import chapter_master
from audiobooks.pipeline.outcomes import ConversionNotRetryable, conversion_fail, conversion_retry
from audiobooks.pipeline.progress import conversion_progress
from audiobooks.pipeline.reaper import conversions_reap
from audiobooks.pipeline.render import cached_part_key, part_render
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.tests.factories import story_book
from credits.models import CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

TITLES = ("The Harbour", "The Storm", "Morning")


@pytest.fixture(autouse=True)
def two_synthesis_processes(settings: Any) -> None:
    settings.PIPELINE_SYNTHESIS_PROCESSES = 2  # three Parts in flight
    settings.PIPELINE_MAX_PART_ATTEMPTS = 3
    # The heartbeat thread has a connection of its own, which cannot see this
    # test's uncommitted rows and would take them for lost; beat() is tested directly.
    settings.PIPELINE_HEARTBEAT_SECONDS = 3600
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}


def ready_book(user: User, directory: Path, *, titles: tuple[str, ...] = TITLES, **story: Any) -> Book:
    return story_book(user, directory, titles=titles, **story)


def submit(user: User, book: Book, chapters: list[int] | None = None) -> Conversion:
    if not CreditEntry.objects.filter(user=user).exists():
        credits_grant_by_system(user=user, hundredths=1000, reason="test float")
    indexes = chapters if chapters is not None else list(book.chapters.values_list("index", flat=True))
    return conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=indexes, voice_key=DEFAULT_VOICE, speed=1.0
    )


def sent_parts(conversion: Conversion) -> list[int]:
    return list(
        conversion.parts.filter(dispatched_at__isnull=False).order_by("index").values_list("index", flat=True)
    )


def render_all(conversion: Conversion) -> None:
    for part_id in conversion.parts.order_by("index").values_list("id", flat=True):
        Part.objects.filter(pk=part_id).update(dispatched_at=timezone.now())
        part_render(part_id=part_id, worker="test:1")


class TestFairShare:
    def test_a_free_slot_goes_to_the_conversion_with_fewest_parts_in_flight(self):
        now = timezone.now()
        long = Candidate(conversion_id=1, in_flight=3, waiting=500, last_sent=now, created_at=now)
        short = Candidate(conversion_id=2, in_flight=0, waiting=4, last_sent=None, created_at=now)
        assert fair_share(candidates=[long, short], free=1) == {2: 1}

    def test_slots_alternate_between_conversions_and_the_least_recently_served_goes_first(self):
        now = timezone.now()
        served_last = Candidate(
            1, in_flight=1, waiting=50, last_sent=now, created_at=now - timedelta(hours=1)
        )
        served_earlier = Candidate(
            2, in_flight=1, waiting=50, last_sent=now - timedelta(seconds=9), created_at=now
        )
        assert fair_share(candidates=[served_last, served_earlier], free=3) == {2: 2, 1: 1}

    def test_a_conversion_never_gets_more_slots_than_it_has_parts_waiting(self):
        now = timezone.now()
        tiny = Candidate(1, in_flight=0, waiting=1, last_sent=None, created_at=now)
        assert fair_share(candidates=[tiny], free=5) == {1: 1}
        assert fair_share(candidates=[], free=5) == {}

    def test_the_spare_slot_goes_only_to_a_conversion_with_nothing_in_flight(self):
        now = timezone.now()
        running = Candidate(1, in_flight=2, waiting=50, last_sent=now, created_at=now)
        assert fair_share(candidates=[running], free=0, spare=1) == {}
        new = Candidate(2, in_flight=0, waiting=50, last_sent=None, created_at=now)
        assert fair_share(candidates=[running, new], free=0, spare=1) == {2: 1}


class TestDispatch:
    def test_the_broker_holds_at_most_processes_plus_one_parts_shared_round_robin_in_reading_order(
        self, owner, stranger, staff, tmp_path, django_capture_on_commit_callbacks
    ):
        mine = submit(owner, ready_book(owner, tmp_path / "a"))
        theirs = submit(stranger, ready_book(stranger, tmp_path / "b"))
        # Submission dispatched already; start again from nothing sent to see one round.
        Part.objects.update(dispatched_at=None, task_id="")
        with django_capture_on_commit_callbacks() as sent:
            assert parts_dispatch() == 2  # one per synthesis process
        assert len(sent) == 1  # one publish callback, for both
        assert sent_parts(mine) == [0]  # the older conversion first, then alternating
        assert sent_parts(theirs) == [0]
        assert parts_dispatch() == 0  # every process has work: nothing more until a Part finishes
        newcomer = submit(staff, ready_book(staff, tmp_path / "c"))
        assert sent_parts(newcomer) == [0]  # the spare slot, kept for a conversion with none in flight
        assert parts_dispatch() == 0
        assert Part.objects.filter(dispatched_at__isnull=False).count() == 3

    def test_one_conversion_alone_keeps_every_synthesis_process_busy_and_no_more(self, owner, tmp_path):
        alone = submit(owner, ready_book(owner, tmp_path, titles=tuple(f"Part {n}" for n in range(6))))
        assert sent_parts(alone) == [0, 1]

    def test_a_short_conversion_submitted_behind_a_long_one_is_next_in_line_at_once(
        self, owner, stranger, tmp_path
    ):
        long = submit(owner, ready_book(owner, tmp_path / "a", titles=tuple(f"Part {n}" for n in range(8))))
        assert sent_parts(long) == [0, 1]
        short = submit(stranger, ready_book(stranger, tmp_path / "b", titles=("Only", "Two", "Three")))
        assert sent_parts(short) == [0]  # the spare slot: the first worker to finish takes it
        Part.objects.filter(conversion=long, index=0).update(
            status=Part.Status.DONE, duration_ms=1, finished_at=timezone.now()
        )
        parts_dispatch()  # what that worker does before it takes the next message
        assert sent_parts(long) == [0, 1]
        assert sent_parts(short) == [0]

    def test_cancelled_conversions_get_no_slots_and_free_theirs(self, owner, stranger, tmp_path):
        mine = submit(owner, ready_book(owner, tmp_path / "a", titles=tuple(f"Part {n}" for n in range(6))))
        theirs = submit(stranger, ready_book(stranger, tmp_path / "b"))
        conversion_cancel(user=owner, conversion_uuid=mine.uuid)
        assert sent_parts(theirs) == [0, 1]


class TestRender:
    def test_a_part_is_claimed_once_a_second_delivery_does_nothing(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        part = conversion.parts.get()
        part_render(part_id=part.pk, worker="test:1")
        part.refresh_from_db()
        assert (part.status, part.attempts) == (Part.Status.DONE, 1)
        stored = StoredObject.objects.get(kind=StoredObject.Kind.PART)
        assert stored.key == cached_part_key(part.cache_key)
        part_render(part_id=part.pk, worker="test:2")  # the same message delivered again
        part.refresh_from_db()
        assert (part.attempts, part.worker) == (1, "test:1")
        assert StoredObject.objects.filter(kind=StoredObject.Kind.PART).count() == 1

    def test_the_last_part_of_a_chapter_sends_it_to_mastering_once(
        self, owner, tmp_path, django_capture_on_commit_callbacks
    ):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One", "Two")))
        first = conversion.parts.order_by("index").first()
        assert first is not None
        with django_capture_on_commit_callbacks() as sent:
            part_render(part_id=first.pk, worker="test:1")
        conversion_chapter = conversion.selections.get(position=0)
        assert conversion_chapter.status == ConversionChapter.Status.MASTERING
        assert conversion.selections.get(position=1).status == ConversionChapter.Status.RENDERING
        assert len(sent) == 1  # the chapter's mastering task (the other Part was sent at submission)
        conversion.refresh_from_db()
        assert conversion.status == Conversion.Status.SYNTHESIZING
        assert conversion.started_at

    def test_the_same_text_and_voice_is_rendered_once_across_conversions_and_users(
        self, owner, stranger, tmp_path
    ):
        first = submit(owner, ready_book(owner, tmp_path / "a"))
        render_all(first)
        stored = set(StoredObject.objects.filter(kind=StoredObject.Kind.PART).values_list("key", flat=True))
        again = submit(stranger, ready_book(stranger, tmp_path / "b"))
        render_all(again)
        assert (
            set(StoredObject.objects.filter(kind=StoredObject.Kind.PART).values_list("key", flat=True))
            == stored
        )
        ours = dict(first.parts.values_list("cache_key", "duration_ms"))
        theirs = dict(again.parts.values_list("cache_key", "duration_ms"))
        assert ours == theirs
        assert set(first.parts.values_list("from_cache", flat=True)) == {False}
        assert set(again.parts.values_list("from_cache", flat=True)) == {True}

    def test_adding_one_chapter_back_renders_only_that_chapter(self, owner, tmp_path):
        book = ready_book(owner, tmp_path)
        render_all(submit(owner, book, chapters=[0, 2]))
        before = StoredObject.objects.filter(kind=StoredObject.Kind.PART).count()
        render_all(submit(owner, book, chapters=[0, 1, 2]))
        assert StoredObject.objects.filter(kind=StoredObject.Kind.PART).count() == before + 1

    def test_a_part_of_a_cancelled_conversion_is_not_rendered(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        part_render(part_id=conversion.parts.get().pk, worker="test:1")
        assert conversion.parts.get().status == Part.Status.CANCELLED
        assert not StoredObject.objects.filter(kind=StoredObject.Kind.PART).exists()

    def test_a_part_no_attempt_can_render_fails_the_conversion_at_once_and_refunds_it(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        Conversion.objects.filter(pk=conversion.pk).update(voice_key="piper:en_US-removed-medium")
        part_render(part_id=conversion.parts.get().pk, worker="test:1")
        conversion.refresh_from_db()
        assert conversion.status == Conversion.Status.FAILED
        assert conversion.error_message.startswith("The voice could not read part of chapter “One”")
        assert conversion.parts.get().attempts == 1
        assert credit_balance_get(user=owner) == 1000

    def test_a_heartbeat_notices_a_cancel_so_the_render_stops(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        part = conversion.parts.get()
        Part.objects.filter(pk=part.pk).update(
            status=Part.Status.RUNNING, worker="test:1", heartbeat_at=timezone.now()
        )
        heartbeat = Heartbeat(part_id=part.pk, worker="test:1", every_seconds=60)
        assert heartbeat.beat()
        conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        assert not heartbeat.beat()


class TestChaptersAndBook:
    def test_a_chapter_is_playable_while_the_rest_still_renders_then_the_book_is_assembled(
        self, owner, tmp_path, django_capture_on_commit_callbacks
    ):
        book = ready_book(owner, tmp_path)
        conversion = submit(owner, book)
        first, *rest = conversion.parts.order_by("index")
        part_render(part_id=first.pk, worker="test:1")
        conversion_chapter = conversion.selections.get(position=0)
        chapter_master(conversion_chapter_id=conversion_chapter.pk, workdir=tmp_path)
        conversion_chapter.refresh_from_db()
        assert conversion_chapter.status == ConversionChapter.Status.READY
        assert conversion_chapter.duration_ms
        assert conversion_chapter.gain_db is not None
        mp3 = storage_keys.mp3_key(**deliverable_ids(conversion), number=1)
        assert StoredObject.objects.get(key=mp3).filename == "The Lighthouse - 01 - The Harbour.mp3"
        conversion.refresh_from_db()
        assert conversion.status == Conversion.Status.SYNTHESIZING
        assert conversion_progress(conversion).chapters_ready == 1

        for part in rest:
            part_render(part_id=part.pk, worker="test:1")
        for later in conversion.selections.filter(position__gt=0):
            chapter_master(conversion_chapter_id=later.pk, workdir=tmp_path)
        conversion.refresh_from_db()
        assert conversion.status == Conversion.Status.ASSEMBLING
        with django_capture_on_commit_callbacks() as sent:
            conversion_assemble(conversion_id=conversion.pk, workdir=tmp_path)
        assert len(sent) == 1  # the reader's email
        conversion.refresh_from_db()
        assert conversion.status == Conversion.Status.COMPLETED
        total = sum(conversion_chapter.duration_ms or 0 for conversion_chapter in conversion.selections.all())
        assert conversion.duration_ms is not None
        assert abs(conversion.duration_ms - total) < 200
        assert backend.object_head(storage_keys.m4b_key(**deliverable_ids(conversion)))

    def test_parts_purged_from_the_cache_before_mastering_are_rendered_again(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        part = conversion.parts.get()
        part_render(part_id=part.pk, worker="test:1")
        backend.objects_delete([cached_part_key(part.cache_key)])
        conversion_chapter = conversion.selections.get()
        chapter_master(conversion_chapter_id=conversion_chapter.pk, workdir=tmp_path)
        part.refresh_from_db()
        conversion_chapter.refresh_from_db()
        assert (part.status, conversion_chapter.status) == (
            Part.Status.PENDING,
            ConversionChapter.Status.RENDERING,
        )
        assert not StoredObject.objects.filter(kind=StoredObject.Kind.PART).exists()


class TestReaperAndOutcomes:
    def stale(self, part: Part, *, attempts: int) -> None:
        Part.objects.filter(pk=part.pk).update(
            status=Part.Status.RUNNING, attempts=attempts, worker="gone:1",
            heartbeat_at=timezone.now() - timedelta(minutes=10),
            dispatched_at=timezone.now() - timedelta(minutes=10),
        )  # fmt: skip

    def test_a_part_whose_worker_vanished_goes_back_to_pending_and_is_sent_again(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        part = conversion.parts.get()
        self.stale(part, attempts=1)
        reaped = conversions_reap()
        part.refresh_from_db()
        assert (reaped.requeued, reaped.dispatched) == (1, 1)
        assert part.status == Part.Status.PENDING
        assert part.dispatched_at is not None
        assert "stopped answering" in part.error

    def test_a_part_out_of_attempts_fails_the_conversion_and_refunds_it_once(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One", "Two")))
        first, second = conversion.parts.order_by("index")
        part_render(part_id=first.pk, worker="test:1")
        self.stale(second, attempts=3)
        balance_before = credit_balance_get(user=owner)
        assert conversions_reap().failed == 1
        conversion.refresh_from_db()
        assert conversion.status == Conversion.Status.FAILED
        assert "“Two”" in conversion.error_message
        assert "refunded" in conversion.error_message
        refund = CreditEntry.objects.get(kind=EntryKind.REFUND)
        assert credit_balance_get(user=owner) == balance_before + refund.amount
        assert refund.characters == first.characters
        assert not conversion_fail(conversion_id=conversion.pk, message="again")
        assert conversions_reap().failed == 0
        assert CreditEntry.objects.filter(kind=EntryKind.REFUND).count() == 1
        assert not ledger_audit().mismatches

    def test_a_part_sent_but_never_claimed_is_sent_again(self, owner, tmp_path, settings):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        part = conversion.parts.get()
        lost_at = timezone.now() - timedelta(seconds=settings.PIPELINE_UNCLAIMED_SECONDS + 1)
        Part.objects.filter(pk=part.pk).update(dispatched_at=lost_at, task_id="lost")
        reaped = conversions_reap()
        part.refresh_from_db()
        assert (reaped.resent, reaped.dispatched) == (1, 1)
        assert part.dispatched_at is not None
        assert part.dispatched_at > lost_at
        assert part.task_id != "lost"

    def test_cancel_then_failure_refunds_once(self, owner, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        assert not conversion_fail(conversion_id=conversion.pk, message="late failure")
        assert CreditEntry.objects.filter(kind=EntryKind.REFUND).count() == 1
        assert credit_balance_get(user=owner) == 1000

    def test_staff_retry_reopens_a_failed_conversion_without_a_second_charge(self, owner, staff, tmp_path):
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One",)))
        part = conversion.parts.get()
        self.stale(part, attempts=3)
        conversions_reap()
        assert conversion_retry(conversion_id=conversion.pk, actor=staff) == 1
        conversion.refresh_from_db()
        part.refresh_from_db()
        assert conversion.status == Conversion.Status.SYNTHESIZING
        assert not conversion.error_message
        assert (part.status, part.attempts) == (Part.Status.PENDING, 0)
        assert CreditEntry.objects.filter(kind=EntryKind.CHARGE).count() == 1
        with pytest.raises(ConversionNotRetryable):
            conversion_retry(conversion_id=conversion.pk, actor=staff)


def test_progress_counts_parts_and_chapters_and_estimates_from_measured_throughput(owner, tmp_path):
    conversion = submit(owner, ready_book(owner, tmp_path))
    progress = conversion_progress(conversion)
    assert (progress.parts_done, progress.parts_total, progress.chapters_total) == (0, 3, 3)
    assert progress.percent == 0.0
    first = conversion.parts.order_by("index").first()
    assert first is not None
    part_render(part_id=first.pk, worker="test:1")
    conversion.refresh_from_db()
    progress = conversion_progress(conversion)
    assert progress.parts_done == 1
    assert 0 < progress.percent < 99
    assert progress.eta_seconds is not None
    assert progress.eta_seconds >= 0


def test_a_submission_whose_messages_cannot_be_published_succeeds_and_the_next_dispatch_sends_them(
    owner, tmp_path, django_capture_on_commit_callbacks, caplog
):
    from tests.celery_processes import app_using_broker

    book = ready_book(owner, tmp_path, titles=("One",))
    with (
        app_using_broker(f"unix://{tmp_path}/no-broker.sock"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        conversion = submit(owner, book)  # the broker is down: logged, not raised
    assert "the next dispatch sends it again" in caplog.text
    part = conversion.parts.get()
    assert part.dispatched_at is None  # unsent: it holds no slot, and no timer has to run out
    with django_capture_on_commit_callbacks() as sent:
        reaped = conversions_reap()
    part.refresh_from_db()
    assert (reaped.resent, reaped.dispatched, len(sent)) == (0, 1, 1)
    assert part.dispatched_at is not None


def test_a_cancel_answers_at_once_when_the_broker_is_down(
    owner, tmp_path, django_capture_on_commit_callbacks
):
    import time

    from tests.celery_processes import app_using_broker

    conversion = submit(owner, ready_book(owner, tmp_path, titles=("One", "Two")))
    started = time.monotonic()
    with (
        app_using_broker(f"unix://{tmp_path}/no-broker.sock"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
    assert time.monotonic() - started < 10
    conversion.refresh_from_db()
    assert conversion.status == Conversion.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_ten_workers_claiming_one_part_at_the_same_moment_claim_it_once(owner, tmp_path):
    from audiobooks.pipeline import render
    from tests.celery_processes import app_using_broker
    from tests.concurrency import run_at_once

    book = ready_book(owner, tmp_path, titles=("One",))
    with app_using_broker(f"unix://{tmp_path}/no-broker.sock"):  # no worker may take it first
        part = submit(owner, book).parts.get()
    from functools import partial

    claims = run_at_once([partial(render._claim, part_id=part.pk, worker=f"w:{n}") for n in range(10)])
    assert [claim for claim in claims if isinstance(claim, Exception)] == []
    assert sum(claim is not None for claim in claims) == 1
    part.refresh_from_db()
    assert part.attempts == 1


def test_a_part_whose_book_was_deleted_while_it_rendered_is_dropped_quietly(owner, tmp_path, caplog):
    from audiobooks.pipeline import render
    from audiobooks.services import book_delete

    book = ready_book(owner, tmp_path, titles=("One",))
    part = submit(owner, book).parts.get()
    claimed = render._claim(part_id=part.pk, worker="test:1")
    assert claimed is not None
    book_delete(user=owner, book_uuid=book.uuid)
    assert not render.part_mark_done(part=claimed, worker="test:1", duration_ms=1, sentences=[])
    assert "failed" not in caplog.text
