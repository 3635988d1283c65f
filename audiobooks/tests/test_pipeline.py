"""The pipeline's steps run in this process: dispatch, claim, render cache, mastering, reaper, outcomes.

Each step is called directly; on-commit callbacks (the messages a step would
send) are captured and inspected instead of being published. The same steps
run on real worker processes in ``test_pipeline_worker.py`` and
``tests/test_pipeline_reliability.py``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Book, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.pipeline import dispatch, render
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


def waiting_parts_add(conversion: Conversion, count: int) -> None:
    """``count`` more Parts waiting at the end of the last chapter (rows only: nothing renders them)."""
    last = conversion.parts.order_by("-index").first()
    assert last is not None
    Part.objects.bulk_create(
        Part(
            conversion=conversion, chapter_id=last.chapter_id, index=last.index + n,
            chapter_part_index=last.chapter_part_index + n, text="Waiting.", characters=8,
            cache_key=f"waiting-{conversion.pk}-{last.index + n}",
        )
        for n in range(1, count + 1)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audiobooks_part")  # as autovacuum would: the planner knows the table's size


def parts_finish(parts: Any) -> int:
    return int(parts.update(status=Part.Status.DONE, duration_ms=1, finished_at=timezone.now()))


@contextlib.contextmanager
def other_session() -> Iterator[psycopg.Connection[Any]]:
    """A second connection to the test database, as another worker's would be."""
    # Django's own parameters: the server may be named by a socket folder in OPTIONS, not HOST
    # (./dev test's private PostgreSQL), and HOST alone would reach the machine's default server.
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        yield other


def dispatch_rows_read(conversion: Conversion) -> dict[str, int]:
    """Finish ``conversion``'s Parts in flight, dispatch, and count the Part rows its reads touched.

    Each SELECT the dispatcher ran is run again under ``EXPLAIN ANALYZE``:
    the rows every scan of ``audiobooks_part`` returned or filtered out.
    """
    finished = conversion.parts.filter(dispatched_at__isnull=False, status=Part.Status.PENDING).update(
        status=Part.Status.DONE, duration_ms=1, finished_at=timezone.now()
    )
    assert finished
    with CaptureQueriesContext(connection) as captured:
        sent = parts_dispatch()
    part_rows = 0
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if query["sql"].lstrip().upper().startswith("SELECT") and "audiobooks_part" in query["sql"]:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
                plan = cursor.fetchone()[0]
                plan = json.loads(plan) if isinstance(plan, str) else plan
                part_rows += _part_rows(plan[0]["Plan"])
    return {"queries": len(captured.captured_queries), "part_rows": part_rows, "sent": sent}


def _part_rows(node: dict[str, Any]) -> int:
    own = 0
    if node.get("Relation Name") == "audiobooks_part":
        own = int(
            (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get("Actual Loops", 1)
        )
    return own + sum(_part_rows(child) for child in node.get("Plans", ()))


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

    def test_the_dispatcher_reads_as_many_rows_with_4000_parts_waiting_as_with_40(
        self, owner, stranger, tmp_path
    ):
        # Every finished Part dispatches, under one lock: at 200 synthesis processes that is 25
        # times a second, and it once counted every Part of every running conversion each time
        # (10 s a call with 17,500 Parts waiting: bench/bench_control_plane.py).
        mine = submit(owner, ready_book(owner, tmp_path / "a"))
        theirs = submit(stranger, ready_book(stranger, tmp_path / "b"))
        waiting_parts_add(mine, 40)
        waiting_parts_add(theirs, 40)
        small = dispatch_rows_read(mine)
        waiting_parts_add(mine, 4_000)
        large = dispatch_rows_read(mine)
        assert large["queries"] == small["queries"], (small, large)
        assert large["part_rows"] <= max(small["part_rows"], 50), (small, large)
        assert large["sent"] == small["sent"] == 1

    def test_a_conversion_with_fewer_parts_waiting_than_its_share_leaves_no_slot_empty(
        self, owner, stranger, tmp_path, settings
    ):
        settings.PIPELINE_SYNTHESIS_PROCESSES = 6
        tiny = submit(owner, ready_book(owner, tmp_path / "a", titles=("Only",)))
        Part.objects.update(dispatched_at=None, task_id="")
        long = submit(
            stranger, ready_book(stranger, tmp_path / "b", titles=tuple(f"Part {n}" for n in range(9)))
        )
        Part.objects.update(dispatched_at=None, task_id="")
        # Six processes: tiny has one Part, long takes the other five; the spare is kept for a
        # conversion with nothing in flight, and there is none.
        assert parts_dispatch() == 6
        assert sent_parts(tiny) == [0]
        assert sent_parts(long) == [0, 1, 2, 3, 4]
        assert Conversion.objects.filter(parts_sent_at__isnull=True).count() == 0

    @pytest.mark.django_db(transaction=True)  # the advisory lock is a transaction's: commit for real
    def test_a_dispatch_that_finds_another_at_work_does_not_wait_and_leaves_its_slot_to_it(
        self, owner, tmp_path, monkeypatch
    ):
        # 25 Parts a second finish at 200 processes; each waited in line for the lock (3.7 s a
        # call in bench/bench_control_plane.py) while its own process sat idle.
        published: list[list[tuple[int, str]]] = []
        # Committed for real, so kept from the broker: the session's worker would render them.
        monkeypatch.setattr(dispatch, "_publish", published.append)
        conversion = submit(owner, ready_book(owner, tmp_path, titles=tuple(f"Part {n}" for n in range(8))))
        parts_finish(conversion.parts.filter(index=0))
        with other_session() as other:
            other.execute("SELECT pg_advisory_lock(%s)", [dispatch._DISPATCH_LOCK])
            started = time.monotonic()
            assert parts_dispatch() == 0  # at once: the one at work serves this slot
            assert time.monotonic() - started < 1.0

        # At work, it sees a request that came in meanwhile (a Part finished after it counted
        # the Parts in flight) and runs again: that slot is filled too.
        choose = dispatch._parts_chosen
        finished_meanwhile: list[int] = []

        def choose_while_a_part_finishes(*args, **kwargs):
            chosen = choose(*args, **kwargs)
            if not finished_meanwhile:
                finished_meanwhile.append(parts_finish(conversion.parts.filter(index=1)))
                with other_session() as other:
                    other.execute(f"SELECT nextval('{dispatch._REQUESTS}')")
            return chosen

        monkeypatch.setattr(dispatch, "_parts_chosen", choose_while_a_part_finishes)
        assert parts_dispatch() == 2  # the slot free when it began, then the one freed meanwhile
        assert sent_parts(conversion) == [0, 1, 2, 3]
        assert [len(parts) for parts in published] == [2, 1, 1]  # at submission, then each round

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


@pytest.mark.django_db(transaction=True)  # the heartbeat's connection must see the rows
def test_the_parts_one_process_renders_share_one_heartbeat_thread_and_connection(
    owner, tmp_path, monkeypatch
):
    # A thread and a connection per Part made two connections per synthesis slot: 200 slots held
    # 294 of PostgreSQL's 300 (bench/bench_control_plane.py).
    monkeypatch.setattr(dispatch, "_publish", lambda parts: None)  # committed: kept from the broker
    conversion = submit(owner, ready_book(owner, tmp_path, titles=("One", "Two", "Three")))
    long_ago = timezone.now() - timedelta(minutes=5)
    conversion.parts.update(status=Part.Status.RUNNING, worker="test:1", heartbeat_at=long_ago)
    before = database_sessions()
    heartbeats = [
        Heartbeat(part_id=part_id, worker="test:1", every_seconds=0.2)
        for part_id in conversion.parts.order_by("index").values_list("id", flat=True)
    ]
    with contextlib.ExitStack() as beating:
        for heartbeat in heartbeats:
            beating.enter_context(heartbeat)
        wait_for(lambda: not conversion.parts.filter(heartbeat_at=long_ago).exists())
        assert database_sessions() <= before + 1
        assert [thread.name for thread in threading.enumerate()].count("ebookvoice-heartbeat") >= 1
        conversion.parts.filter(pk=heartbeats[0].part_id).update(status=Part.Status.PENDING, worker="")
        wait_for(heartbeats[0].lost)
        assert not heartbeats[1].lost()
        assert not heartbeats[2].lost()


def database_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def wait_for(condition: Any, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


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

    def test_a_part_claimed_through_a_message_the_reaper_took_for_lost_counts_as_in_flight(
        self, owner, tmp_path
    ):
        # Workers started after a backlog built up (bench/bench_control_plane.py): the reaper
        # cleared 201 Parts' sending, their late messages claimed them, and the dispatcher, which
        # did not count them, sent 201 Parts more than there were processes.
        conversion = submit(owner, ready_book(owner, tmp_path, titles=("One", "Two", "Three")))
        first = conversion.parts.get(index=0)
        Part.objects.filter(pk=first.pk).update(dispatched_at=None)  # taken for lost, not sent again
        assert render._claim(part_id=first.pk, worker="test:1") is not None  # the late message
        assert Part.objects.filter(dispatch.IN_FLIGHT).count() == 2  # itself and the second
        assert parts_dispatch() == 0

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
