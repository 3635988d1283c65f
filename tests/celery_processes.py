"""Real Celery processes on a private Redis the test starts itself, for tests that kill or restart things.

The session-wide ``celery_worker`` fixture shares the test Redis; the
reliability tests need a broker of their own (to restart it) and workers
with short pipeline timeouts (so the reaper acts within seconds).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
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


class PrivatePostgres:
    """pgserver's PostgreSQL on a unix socket in ``datadir``; ``restart_fast``: ``pg_ctl restart -m fast``."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self.server: Any = None

    def start(self) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        # pgserver logs at INFO from an atexit hook, after pytest closed its streams.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(self.datadir, cleanup_mode="stop")
        return str(self.server.get_uri())

    def restart_fast(self) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
        from pgserver.utils import ensure_prefix_permissions

        if self.server.system_user is not None:
            # As root, pgserver runs PostgreSQL as its own user and opens the folders above the data
            # at start; another pytest session on the machine closes /tmp/pytest-of-root (0700) again.
            ensure_prefix_permissions(self.datadir)
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.datadir, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()


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


class CeleryProcesses:
    """A synthesis worker, a light worker and beat, each started, killed and started again by name."""

    def __init__(
        self,
        *,
        broker_url: str,
        workdir: Path,
        environment: Mapping[str, str],
        synthesis_processes: int = 2,
        separate_beat: bool = False,
    ) -> None:
        run_id = os.environ["EBOOKVOICE_TEST_RUN_ID"]
        self.environ = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            **environment,
            "DJANGO_SETTINGS_MODULE": "ebookvoice.settings.test",
            "CELERY_BROKER_URL": kombu_url(broker_url),
            "CELERY_RESULT_BACKEND": kombu_url(broker_url),
            "SYNTHESIS_PROCESSES": str(synthesis_processes),
        }
        base = [sys.executable, "-m", "celery", "-A", "ebookvoice", "worker", "--loglevel", "WARNING",
                "--without-gossip", "--without-mingle"]  # fmt: skip
        self.commands = {
            "synthesis": [*base, "--queues", "synthesis", "--concurrency", str(synthesis_processes),
                          "--hostname", f"synthesis-{run_id}@%h"],
            "light": [*base, "--queues", "light", "--concurrency", "1", "--hostname", f"light-{run_id}@%h"],
        }  # fmt: skip
        beat = ["--schedule", str(workdir / "beat-schedule")]
        if separate_beat:
            self.commands["beat"] = [*base[:5], "beat", "--loglevel", "WARNING", *beat]
        else:
            self.commands["light"] += ["--beat", *beat]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            self.commands[name], cwd=BASE_DIR, env=self.environ, start_new_session=True
        )
        self.processes[name] = process
        return process

    def wait_ready(self, *queues: str) -> None:
        """Ping each worker through its queue (this process must publish to the same broker)."""
        from ebookvoice.tasks import ping

        for queue in queues or ("synthesis", "light"):
            ping.apply_async(queue=queue).get(timeout=START_TIMEOUT_S)

    def kill(self, name: str) -> None:
        """``kill -9`` of the whole worker: its main process and every child."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for name in list(self.processes):
            self.stop(name)


@contextlib.contextmanager
def celery_processes(
    *,
    broker_url: str,
    workdir: Path,
    environment: Mapping[str, str],
    synthesis_processes: int = 2,
    separate_beat: bool = False,
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """A synthesis worker, and a light worker running beat (the reaper), on ``broker_url``.

    ``separate_beat``: beat as a process of its own (as compose runs it), so
    the light worker can be stopped while beat goes on.

    Must run inside ``app_using_broker(broker_url)``: each worker is pinged
    through it before this yields.
    """
    processes = CeleryProcesses(
        broker_url=broker_url, workdir=workdir, environment=environment,
        synthesis_processes=synthesis_processes, separate_beat=separate_beat,
    )  # fmt: skip
    try:
        for name in processes.commands:
            processes.start(name)
        processes.wait_ready()
        yield processes.processes
    finally:
        processes.stop_all()
