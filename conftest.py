"""Fixtures shared by every app's tests, and the CI rule on skipped tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from accounts.models import User
from ebookvoice.local_services import database_url_for
from ebookvoice.paths import BASE_DIR

STRICT_SKIPS_ENV = "EBOOKVOICE_STRICT_SKIPS"
WORKER_START_TIMEOUT_S = 60

_forbidden_skips: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "gpu" not in report.keywords:
        _forbidden_skips.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    media_root = os.environ.get("EBOOKVOICE_TEST_MEDIA_ROOT", "")
    if "ebv-test-media-" in media_root:
        shutil.rmtree(media_root, ignore_errors=True)
    # In CI every dependency is installed, so a skip means a test silently
    # stopped testing; only tests that need a GPU may skip there.
    if os.environ.get(STRICT_SKIPS_ENV) == "1" and _forbidden_skips:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get(STRICT_SKIPS_ENV) == "1" and _forbidden_skips:
        terminalreporter.section("skipped tests not marked gpu (not allowed in CI)", red=True)
        for nodeid in _forbidden_skips:
            terminalreporter.line(nodeid)


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
    """A real `celery worker` process on the test broker and the test database."""

    def __init__(self, process: subprocess.Popen[bytes], queues: str) -> None:
        self.process = process
        self.queues = queues


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: None, django_db_blocker: object) -> Iterator[CeleryWorker]:
    """Start one worker process for the session, consuming both queues.

    Tests that use it must commit their data (``django_db(transaction=True)``):
    the worker is another process and sees only committed rows.
    """
    from django.db import connection

    from ebookvoice.tasks import ping

    queues = "light,synthesis"
    environ = {
        **os.environ,
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
        yield CeleryWorker(process, queues)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
