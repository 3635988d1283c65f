"""Real Celery processes on a private Redis the test starts itself, for tests that kill or restart things.

The session-wide ``celery_worker`` fixture shares the test Redis; the
reliability tests need a broker of their own (to restart it) and workers
with short pipeline timeouts (so the reaper acts within seconds).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from django.db import connection

from ebookvoice.celery import app
from ebookvoice.local_services import redis_server
from ebookvoice.paths import BASE_DIR

START_TIMEOUT_S = 90


def kombu_url(redis_url: str) -> str:
    return (
        "redis+socket://" + redis_url.removeprefix("unix://")
        if redis_url.startswith("unix://")
        else redis_url
    )


class PrivateRedis:
    """A redis-server with an append-only file (as production's broker), that can be restarted."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._stack = contextlib.ExitStack()
        self.url = ""

    def start(self) -> str:
        self.url = self._stack.enter_context(redis_server(self.workdir, persistent=True))
        return self.url

    def stop(self) -> None:
        self._stack.close()

    def restart(self) -> None:
        self.stop()
        self._stack = contextlib.ExitStack()
        self.start()


@contextlib.contextmanager
def app_using_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app (publishing, ping results) at another broker for a while.

    Celery keeps its connection pools and result backend; dropping its
    references as it does after a fork (``_after_fork``) makes the next
    publish use the new URL. Private to Celery 5.x, pinned in requirements.
    """

    def switch(broker: str, backend: str) -> None:
        # Not closed: kombu keeps one pool per broker for the process, and the
        # test broker's is needed again afterwards.
        app.conf.update(broker_url=broker, result_backend=backend)
        app._after_fork()  # type: ignore[attr-defined]
        app._backend_cache = None  # type: ignore[attr-defined]
        app._local = threading.local()  # type: ignore[attr-defined]

    saved = (app.conf.broker_url, app.conf.result_backend)
    switch(kombu_url(url), kombu_url(url))
    try:
        yield
    finally:
        switch(*saved)


def _database_url() -> str:
    url = urlsplit(os.environ["DATABASE_URL"])
    return url._replace(path=f"/{connection.settings_dict['NAME']}").geturl()


@contextlib.contextmanager
def celery_processes(
    *, broker_url: str, workdir: Path, environment: Mapping[str, str], synthesis_processes: int = 2
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """A synthesis worker, and a light worker running beat (the reaper), on ``broker_url``.

    Must run inside ``app_using_broker(broker_url)``: each worker is pinged
    through it before this yields.
    """
    from ebookvoice.tasks import ping

    run_id = os.environ["EBOOKVOICE_TEST_RUN_ID"]
    environ = {
        **os.environ,
        **environment,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "ebookvoice.settings.test",
        "CELERY_BROKER_URL": kombu_url(broker_url),
        "CELERY_RESULT_BACKEND": kombu_url(broker_url),
        "SYNTHESIS_PROCESSES": str(synthesis_processes),
    }
    base = [sys.executable, "-m", "celery", "-A", "ebookvoice", "worker", "--loglevel", "WARNING",
            "--without-gossip", "--without-mingle"]  # fmt: skip
    commands = {
        "synthesis": [*base, "--queues", "synthesis", "--concurrency", str(synthesis_processes),
                      "--hostname", f"synthesis-{run_id}@%h"],
        "light": [*base, "--queues", "light", "--concurrency", "1", "--hostname", f"light-{run_id}@%h",
                  "--beat", "--schedule", str(workdir / "beat-schedule")],
    }  # fmt: skip
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, cwd=BASE_DIR, env=environ, start_new_session=True)
        for queue in commands:
            ping.apply_async(queue=queue).get(timeout=START_TIMEOUT_S)
        yield processes
    finally:
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
