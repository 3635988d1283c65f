"""Fixtures shared by every app's tests, and the rule on skipped tests (tests/needs.py)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.models import User
from ebookvoice.local_services import database_url_for
from ebookvoice.paths import BASE_DIR
from tests import needs

STRICT_SKIPS_ENV = "EBOOKVOICE_STRICT_SKIPS"
WORKER_START_TIMEOUT_S = 60

# Every skip of this run: test (or module) id → reason. Tests that need a GPU are not counted.
_skips: dict[str, str] = {}


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and "gpu" not in report.keywords:
        _skips[report.nodeid] = _reason(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:  # a whole module skipped at import (an optional extra)
        _skips[report.nodeid] = _reason(report)


def _missing_and_forbidden() -> tuple[dict[str, int], dict[str, str]]:
    return needs.sort_skips(_skips, strict=os.environ.get(STRICT_SKIPS_ENV) == "1")


def pytest_configure(config: pytest.Config) -> None:
    _flush_again_after_a_deadlock()


def _flush_again_after_a_deadlock() -> None:
    """Let a transactional test's closing flush try again when PostgreSQL picks it as a deadlock's victim.

    The session's worker process may still run a task the test queued (a Part of
    a conversion it submitted) while the flush TRUNCATEs every table; the two
    take their locks in different orders, and PostgreSQL aborts one of them.
    The flush rolled back whole, so trying again once the task has moved on is safe.
    """
    import time

    from django.db import OperationalError
    from django.test import TransactionTestCase

    teardown = TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]

    def teardown_retrying(self: TransactionTestCase) -> None:
        for attempt in range(5):
            try:
                teardown(self)
                return
            except OperationalError as error:
                if "deadlock detected" not in str(error) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = teardown_retrying  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    media_root = os.environ.get("EBOOKVOICE_TEST_MEDIA_ROOT", "")
    if "ebv-test-media-" in media_root:
        shutil.rmtree(media_root, ignore_errors=True)
    # A skip nobody expects means a test silently stopped testing.
    if _missing_and_forbidden()[1]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if forbidden := _missing_and_forbidden()[1]:
        strict = os.environ.get(STRICT_SKIPS_ENV) == "1"
        title = (
            "skipped tests (none may skip in CI)"
            if strict
            else "skipped tests that tests/needs.py does not allow"
        )
        terminalreporter.section(title, red=True)
        for nodeid, reason in forbidden.items():
            terminalreporter.line(f"{nodeid}: {reason}")


def pytest_unconfigure(config: pytest.Config) -> None:
    # The very last line of the run: what was missing, and how to install it.
    missing, _ = _missing_and_forbidden()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if missing and reporter is not None:
        counts = ", ".join(f"{what} ({count})" for what, count in sorted(missing.items()))
        reporter.write_line(
            f"Skipped {sum(missing.values())} tests, missing {counts}; to run them: "
            f"{needs.how_to_install(missing)}",
            yellow=True,
        )


# The personas every app's tests use: a user who owns things, one who must not
# see them, and a member of staff.
@pytest.fixture
def owner(db: None) -> User:
    return User.objects.create_user("owner@example.com", "pw")


@pytest.fixture
def stranger(db: None) -> User:
    return User.objects.create_user("stranger@example.com", "pw")


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("staff@example.com", "pw", is_staff=True, is_superuser=True)


class CeleryWorker:
    """A real `celery worker` process on the test broker and the test database.

    ``ffmpeg_log`` records every ffmpeg command line the worker runs (see
    ``_ffmpeg_recorder``), so a test can say what a step asked of ffmpeg.
    """

    def __init__(self, process: subprocess.Popen[bytes], queues: str, ffmpeg_log: Path) -> None:
        self.process = process
        self.queues = queues
        self.ffmpeg_log = ffmpeg_log


# One line per ffmpeg run: the arguments, each followed by \037. For an ffconcat
# listing among them, \035 then its lines and \035 then the names in its folder,
# each followed by \036. Then it runs the real ffmpeg in its place.
_FFMPEG_RECORDER = r"""#!/bin/sh
line=$(printf '%s\037' "$@")
for arg in "$@"; do
  case "$arg" in
    *.ffconcat)
      listing=$(tr '\n' '\036' < "$arg")
      folder=$(ls -A "$(dirname "$arg")" | tr '\n' '\036')
      line="$line$(printf '\035')$listing$(printf '\035')$folder" ;;
  esac
done
printf '%s\n' "$line" >> {log}
exec {ffmpeg} "$@"
"""


def _ffmpeg_recorder(folder: Path) -> tuple[Path, Path]:
    """An ffmpeg that records its command lines, then runs the real one: (its path, its log)."""
    from django.conf import settings

    log, script = folder / "ffmpeg.log", folder / "ffmpeg"
    log.touch()
    real = shlex.quote(settings.FFMPEG_BINARY)
    script.write_text(_FFMPEG_RECORDER.format(log=shlex.quote(str(log)), ffmpeg=real))
    script.chmod(0o755)
    return script, log


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorker]:
    """Start one worker process for the session, consuming both queues.

    Tests that use it must commit their data (``django_db(transaction=True)``):
    the worker is another process and sees only committed rows.
    """
    from django.db import connection

    from ebookvoice.tasks import ping

    queues = "light,synthesis"
    ffmpeg, ffmpeg_log = _ffmpeg_recorder(tmp_path_factory.mktemp("ffmpeg"))
    environ = {
        **os.environ,
        "FFMPEG_BINARY": str(ffmpeg),
        "DATABASE_URL": database_url_for(os.environ["DATABASE_URL"], str(connection.settings_dict["NAME"])),
        "DJANGO_SETTINGS_MODULE": "ebookvoice.settings.test",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "ebookvoice", "worker",
        "--queues", queues, "--concurrency", "2", "--loglevel", "WARNING",
        "--hostname", f"test-{os.environ['EBOOKVOICE_TEST_RUN_ID']}@%h",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=BASE_DIR, env=environ, start_new_session=True)
    try:
        # The first answered ping proves the worker is up, connected and consuming.
        ping.apply_async(queue="light").get(timeout=WORKER_START_TIMEOUT_S)
        yield CeleryWorker(process, queues, ffmpeg_log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
