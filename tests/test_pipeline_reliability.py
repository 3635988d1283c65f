"""The pipeline survives what production does to it: a worker killed mid-Part, a broker restart.

The seven fault drills at the end (``tests/drills.py``) each break one
thing on a PostgreSQL and a Redis these tests start themselves, and assert
that every conversion ends, charged once and refunded at most once, with no
Part left open and a clean ledger; ``bench/bench_drills.py`` times them.

Real worker processes (a synthesis worker and a light worker running beat,
so the reaper runs every second) on a Redis this test starts and restarts
itself. Short pipeline timeouts make the reaper act within seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import environ
import pytest
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from audiobooks.models import Conversion, Part, StoredObject
from audiobooks.pipeline.render import cached_part_key
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.tests.factories import story_book, wait_until_finished
from credits.models import CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tests.celery_processes import PrivateRedis, app_using_broker, celery_processes
from tests.drills import DRILLS, FAST_KNOBS, SYNTHESIS_PROCESSES, Drill, PrivatePostgres, private_postgres
from tts_engine.registry import DEFAULT_VOICE

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

TIMEOUTS = {
    "PIPELINE_HEARTBEAT_SECONDS": "1",
    "PIPELINE_STALE_SECONDS": "4",
    "PIPELINE_UNCLAIMED_SECONDS": "8",
    "PIPELINE_ASSEMBLY_SECONDS": "20",
    "PIPELINE_REAP_EVERY_SECONDS": "1",
}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    try:
        with app_using_broker(redis.url):
            yield redis
    finally:
        redis.stop()


@pytest.fixture
def pipeline_settings(settings: Any) -> dict[str, str]:
    """The same timeouts in this process (which dispatches at submission) as in the workers."""
    settings.PIPELINE_SYNTHESIS_PROCESSES = 2
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}
    return dict(TIMEOUTS)


def submitted(user: User, directory: Path, *, chapters: int = 2, paragraphs: int = 6) -> Conversion:
    titles = tuple(f"Chapter {n}" for n in range(1, chapters + 1))
    book = story_book(user, directory, titles=titles, paragraphs_per_chapter=paragraphs)
    credits_grant_by_system(user=user, hundredths=300, reason="test")
    return conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=range(chapters), voice_key=DEFAULT_VOICE, speed=1.0
    )


def running_part(conversion: Conversion, *, timeout: float = 60) -> Part:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        part = conversion.parts.filter(status=Part.Status.RUNNING).exclude(worker="").first()
        if part is not None:
            return part
        time.sleep(0.05)
    raise AssertionError("no Part started rendering")


def assert_each_part_stored_once(conversion: Conversion) -> None:
    keys = {cached_part_key(key) for key in conversion.parts.values_list("cache_key", flat=True)}
    assert set(conversion.parts.values_list("status", flat=True)) == {Part.Status.DONE}
    assert StoredObject.objects.filter(kind=StoredObject.Kind.PART, key__in=keys).count() == len(keys)


def assert_charged_once(user: User, conversion: Conversion, *, start: int) -> None:
    charges = CreditEntry.objects.filter(kind=EntryKind.CHARGE, conversion_uuid=conversion.uuid)
    assert charges.count() == 1
    assert not CreditEntry.objects.filter(kind=EntryKind.REFUND, conversion_uuid=conversion.uuid).exists()
    assert credit_balance_get(user=user) == start - conversion.charge_hundredths
    assert not ledger_audit().mismatches


def test_a_worker_killed_mid_part_is_replaced_and_the_book_completes_charged_once(
    owner, tmp_path, broker, pipeline_settings
):
    with celery_processes(broker_url=broker.url, workdir=tmp_path, environment=pipeline_settings):
        conversion = submitted(owner, tmp_path / "book")
        victim = running_part(conversion)
        time.sleep(0.5)  # well into the render
        os.kill(int(victim.worker.rpartition(":")[2]), signal.SIGKILL)
        conversion = wait_until_finished(conversion)

    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    victim.refresh_from_db()
    assert victim.attempts == 2  # the killed attempt, then the one that rendered it
    assert_each_part_stored_once(conversion)
    assert_charged_once(owner, conversion, start=300)


def test_a_part_whose_workers_are_killed_until_its_attempts_run_out_is_refunded_once(
    owner, tmp_path, broker, pipeline_settings
):
    pipeline_settings["PIPELINE_MAX_PART_ATTEMPTS"] = "2"
    with celery_processes(broker_url=broker.url, workdir=tmp_path, environment=pipeline_settings):
        conversion = submitted(owner, tmp_path / "book", chapters=1, paragraphs=12)
        for attempt in (1, 2):
            victim = running_part(conversion)
            assert victim.attempts == attempt
            os.kill(int(victim.worker.rpartition(":")[2]), signal.SIGKILL)
            # Wait for the reaper to take the row back before the next attempt.
            deadline = time.monotonic() + 30
            while Part.objects.filter(pk=victim.pk, status=Part.Status.RUNNING, attempts=attempt).exists():
                assert time.monotonic() < deadline, "the reaper did not act"
                time.sleep(0.1)
        conversion = wait_until_finished(conversion, timeout=60)

    assert conversion.status == Conversion.Status.FAILED
    assert "could not be rendered after 2 attempts" in conversion.error_message
    refunds = CreditEntry.objects.filter(kind=EntryKind.REFUND, conversion_uuid=conversion.uuid)
    assert refunds.count() == 1
    assert refunds.get().amount == conversion.charge_hundredths  # nothing was rendered
    assert credit_balance_get(user=owner) == 300
    assert not ledger_audit().mismatches


def test_every_conversion_completes_charged_once_when_the_broker_restarts_mid_job(
    owner, stranger, tmp_path, broker, pipeline_settings
):
    with celery_processes(broker_url=broker.url, workdir=tmp_path, environment=pipeline_settings):
        conversions = [
            (owner, submitted(owner, tmp_path / "a")),
            (stranger, submitted(stranger, tmp_path / "b")),
        ]
        running_part(conversions[0][1])
        broker.restart()
        done = [(user, wait_until_finished(conversion)) for user, conversion in conversions]

    for user, conversion in done:
        assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
        assert set(conversion.parts.values_list("status", flat=True)) == {Part.Status.DONE}
        assert_charged_once(user, conversion, start=300)
    keys = {cached_part_key(key) for key in Part.objects.values_list("cache_key", flat=True)}
    assert StoredObject.objects.filter(kind=StoredObject.Kind.PART, key__in=keys).count() == len(keys)


# --- Fault drills (tests/drills.py) on a PostgreSQL and a Redis these tests start and break ---------


@contextlib.contextmanager
def database_at(url: str) -> Iterator[None]:
    """Point this process's default connection at another PostgreSQL for a while."""
    target = environ.Env.db_url_config(url)
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(
        {key: target[key] for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")}
    )
    connection.settings_dict["OPTIONS"] = {**saved.get("OPTIONS", {}), **target.get("OPTIONS", {})}
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture(scope="module")
def drill_postgres(
    tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any
) -> Iterator[tuple[PrivatePostgres, str]]:
    """pgserver's PostgreSQL for the drills, migrated once, stopped after the last drill."""
    with private_postgres(tmp_path_factory.mktemp("drill-postgres") / "data") as postgres:
        url = postgres.server.get_uri()
        with django_db_blocker.unblock(), database_at(url):
            assert_private(postgres)  # never the machine's own server
            call_command("migrate", verbosity=0)
        yield postgres, url


def assert_private(postgres: PrivatePostgres) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('data_directory')")
        row = cursor.fetchone()
    assert row is not None
    assert Path(row[0]).resolve() == postgres.datadir.resolve(), row


@pytest.mark.parametrize("drill", DRILLS)
def test_drill_every_conversion_ends_charged_once_refunded_once_with_nothing_left_open(
    drill, drill_postgres, tmp_path, settings
):
    settings.PIPELINE_SYNTHESIS_PROCESSES = SYNTHESIS_PROCESSES
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}
    postgres, url = drill_postgres
    with database_at(url):
        assert_private(postgres)
        result = Drill(workdir=tmp_path, postgres=postgres, database_url=url, knobs=dict(FAST_KNOBS)).run(
            drill
        )

    print(json.dumps(result.as_json()))  # the times, for whoever runs this with -s
    expected = "cancelled" if drill == "cancel_mid_part" else "completed"
    statuses = sorted(result.statuses.values())
    if drill == "cancel_mid_part":
        assert statuses == ["cancelled", "completed"], result
    else:
        assert statuses == [expected, expected], result
    assert set(result.charges.values()) == {1}, result
    refunds = sorted(
        result.refunds[uuid] for uuid, status in result.statuses.items() if status != "completed"
    )
    assert refunds == [1] * len(refunds), result
    assert all(result.refunds[uuid] == 0 for uuid, status in result.statuses.items() if status == "completed")
    assert result.open_parts == 0, result
    assert result.audit_mismatches == 0, result
    assert result.recovery_seconds is not None
