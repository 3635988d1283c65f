"""Celery workers for the length of one command (``manage.py convert``): found, or started and stopped.

The decision, in order:

1. The broker answers and, between them, live workers consume both queues
   (Celery's ``inspect active_queues``: answered by a worker's main process,
   so a worker busy rendering still counts; asked up to three times, with
   longer waits, before concluding there are none): use them. That is production,
   or ``./dev up`` running on the same ``var/``. A light-queue ``ping`` then
   checks that they use this command's database: a Conversion they cannot
   see would wait forever.
2. The broker answers but a queue has no worker: start beat and both workers
   (devstack's commands) on that broker, and stop them afterwards.
3. The broker does not answer and it is the embedded default (the private
   Redis socket under ``var/run``): start that Redis too, as ``./dev up``
   does, then the workers. Anything else is refused: a configured broker
   that is down is not ours to replace.

``broker_for_command`` and ``workers_for_command`` are two steps so the
command can migrate in between: the broker's Redis is also Django's cache.

Started processes get a session of their own (the terminal's Ctrl-C reaches
only the command, which stops them in order) and die with their parent on
Linux; their output goes to ``var/run/convert-workers.log``, never to the
command's stdout.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from ebookvoice.celery import LIGHT_QUEUE, SYNTHESIS_QUEUE, app
from ebookvoice.devstack import (
    Child,
    light_processes,
    private_broker,
    spawn,
    stop,
    worker_commands,
    worker_environ,
)
from ebookvoice.paths import var_dir
from ebookvoice.tasks import ping

QUEUES = (LIGHT_QUEUE, SYNTHESIS_QUEUE)
INSPECT_TIMEOUT_S = 1.0
DETECT_TIMEOUTS_S = (1.0, 2.0, 3.0)
START_TIMEOUT_S = 120.0
PING_TIMEOUT_S = 20.0
# Workers found running are looked for again this often; missing this many looks in a row ends the wait.
LIVENESS_EVERY_S = 20.0
LIVENESS_MISSES = 3


class WorkersUnavailable(RuntimeError):
    """No workers can take the job; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def broker_reachable() -> bool:
    try:
        with app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception:
        return False
    return True


def live_queues(timeout: float = INSPECT_TIMEOUT_S) -> dict[str, set[str]]:
    """Each queue with a live consumer, and the worker hostnames consuming it."""
    try:
        answers = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:
        return {}
    covered: dict[str, set[str]] = {}
    for hostname, queues in answers.items():
        for queue in queues or ():
            covered.setdefault(str(queue.get("name")), set()).add(hostname)
    return covered


def _live_queues_patiently() -> dict[str, set[str]]:
    """``live_queues``, asked again with longer waits: a loaded worker can answer late, and
    starting a second set of workers by mistake costs far more than a few seconds."""
    covered: dict[str, set[str]] = {}
    for timeout in DETECT_TIMEOUTS_S:
        covered = live_queues(timeout=timeout)
        if all(covered.get(queue) for queue in QUEUES):
            break
    return covered


def embedded_broker() -> bool:
    """Whether the broker is the embedded default: the private Redis socket under ``var/run``."""
    return str(settings.CELERY_BROKER_URL) == f"redis+socket://{settings.REDIS_SOCKET}"


def _same_database() -> None:
    ours = str(connection.settings_dict["NAME"])
    try:
        answer = ping.apply_async(queue=LIGHT_QUEUE, expires=PING_TIMEOUT_S).get(timeout=PING_TIMEOUT_S)
    except Exception as error:
        raise WorkersUnavailable(
            f"The light-queue workers did not answer a ping within {PING_TIMEOUT_S:.0f} s ({error})."
        ) from error
    if answer.get("database_name") != ours or answer.get("database_vendor") != connection.vendor:
        raise WorkersUnavailable(
            f"The running workers use the database {answer.get('database_name')!r}, "
            f"and this command uses {ours!r}: point both at the same one."
        )


@dataclass
class Workers:
    """The workers a command runs on: ``children`` are the ones it started (none when it found them)."""

    description: str
    children: list[Child] = field(default_factory=list)
    log_path: Path | None = None
    _next_look: float = 0.0
    _misses: int = 0

    def check(self) -> None:
        """Raise ``WorkersUnavailable`` once they are gone; cheap enough to call every second."""
        for child in self.children:
            if child.process.poll() is not None:
                raise WorkersUnavailable(
                    f"The {child.name} stopped (exit status {child.process.returncode}); see {self.log_path}."
                )
        if self.children or time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + LIVENESS_EVERY_S
        covered = live_queues()
        self._misses = 0 if all(covered.get(queue) for queue in QUEUES) else self._misses + 1
        if self._misses >= LIVENESS_MISSES:
            raise WorkersUnavailable("The workers this conversion was running on went away.")


@dataclass(frozen=True)
class Broker:
    """A reachable broker, and the environment that reaches it (for processes started on it)."""

    environ: dict[str, str]
    private: bool  # a Redis started for this command, gone when it ends


@contextlib.contextmanager
def broker_for_command() -> Iterator[Broker]:
    """The configured broker when it answers, else (embedded default only) a private Redis for a while.

    Django's cache is the same Redis, so anything that needs the cache (migrate does) runs inside.
    """
    if broker_reachable():
        yield Broker(environ=dict(os.environ), private=False)
        return
    if not embedded_broker():
        raise WorkersUnavailable(
            f"Cannot reach the broker at {settings.CELERY_BROKER_URL}: start it, or unset "
            "REDIS_URL and CELERY_BROKER_URL to use a private one."
        )
    environ = {
        key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "CELERY_BROKER_URL")
    }
    with private_broker(environ) as with_redis:
        yield Broker(environ=with_redis, private=True)


@contextlib.contextmanager
def workers_for_command(
    broker: Broker, *, synthesis_processes: int, say: Callable[[str], None]
) -> Iterator[Workers]:
    """Yield workers for both queues, starting (and afterwards stopping) them when none are live."""
    if not broker.private:
        covered = _live_queues_patiently()
        if all(covered.get(queue) for queue in QUEUES):
            _same_database()
            hosts = sorted(set().union(*covered.values()))
            yield Workers(description=f"on the running workers ({', '.join(hosts)})")
            return
    with _started_workers(broker.environ, synthesis_processes, say) as workers:
        yield workers


@contextlib.contextmanager
def _started_workers(
    environ: dict[str, str], synthesis_processes: int, say: Callable[[str], None]
) -> Iterator[Workers]:
    run_dir = var_dir() / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "convert-workers.log"
    environ = worker_environ(
        {**environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}, synthesis_processes
    )
    children: list[Child] = []
    with log_path.open("wb") as log:
        try:
            for name, command in worker_commands(synthesis_processes).items():
                children.append(spawn(name, command, environ, output=log))
            workers = Workers(
                description=(
                    f"on {synthesis_processes} synthesis process(es) and "
                    f"{light_processes(synthesis_processes)} light process(es) started here"
                ),
                children=children,
                log_path=log_path,
            )
            _wait_until_consuming(workers)
            _same_database()
            yield workers
        finally:
            stop(children, say=say, label="convert")


def _wait_until_consuming(workers: Workers) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        workers.check()
        covered = live_queues(timeout=0.5)
        if all(covered.get(queue) for queue in QUEUES):
            return
        if time.monotonic() > deadline:
            raise WorkersUnavailable(
                f"The workers did not start within {START_TIMEOUT_S:.0f} s; see {workers.log_path}."
            )
        time.sleep(0.2)
