"""Celery workers for the length of one command (``manage.py convert``): found, or started and stopped.

The decision, in order:

1. The broker answers and, between them, live workers consume both queues
   (Celery's ``inspect active_queues``: answered by a worker's main process,
   so a worker busy rendering still counts; asked up to three times, with
   longer waits, before concluding there are none): use them. That is production,
   or ``./dev up`` running on the same ``var/``. A light-queue ``ping`` then
   checks that they use this command's database: a Conversion they cannot
   see would wait forever. The patient asking costs up to 6 s when nothing
   answers, so it is skipped when the broker is a Redis that says no one
   listens: every live worker holds a pattern subscription (its control
   mailbox) on the broker's database, and ``CLIENT LIST`` counts them.
2. The broker answers but a queue has no worker: start both workers
   (devstack's commands) on that broker, and stop them afterwards. The
   command goes on at once (storing the upload needs no worker); a ping sent
   to each queue at the start says when its worker consumes, and ingestion
   and synthesis simply wait in their queues until then. Beat (the reaper's
   clock, needed by no first step) starts once both have answered, so it
   does not compete with their boot for the CPU.
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
from typing import IO, cast

from celery.result import AsyncResult
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


def workers_may_be_listening(broker_url: str | None = None) -> bool:
    """False only when the broker is a Redis with no pattern subscriber on its database: no worker.

    A Celery worker on Redis pattern-subscribes to its control mailbox (the
    ``celery.pidbox`` fanout) as soon as it consumes, on the broker's database
    number, and keeps that subscription while it renders. A client with
    ``psub`` > 0 on our database is therefore a worker (or another fanout
    consumer); none at all is certain, where ``inspect`` could only time out.
    Any other broker, or a Redis that refuses ``CLIENT LIST``: True (ask
    ``inspect``, patiently). ``broker_url``: another broker than the configured one.
    """
    try:
        with app.connection_for_write(broker_url) as broker:
            client = getattr(broker.default_channel, "client", None)
            if client is None:
                return True
            database = str(client.connection_pool.connection_kwargs.get("db", 0))
            clients = client.client_list()
    except Exception:
        return True
    return any(str(entry.get("db")) == database and int(entry.get("psub") or 0) > 0 for entry in clients)


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
    try:
        answer = ping.apply_async(queue=LIGHT_QUEUE, expires=PING_TIMEOUT_S).get(timeout=PING_TIMEOUT_S)
    except Exception as error:
        raise WorkersUnavailable(
            f"The light-queue workers did not answer a ping within {PING_TIMEOUT_S:.0f} s ({error})."
        ) from error
    _check_database(answer)


def _check_database(answer: dict[str, str]) -> None:
    ours = str(connection.settings_dict["NAME"])
    if answer.get("database_name") != ours or answer.get("database_vendor") != connection.vendor:
        raise WorkersUnavailable(
            f"The running workers use the database {answer.get('database_name')!r}, "
            f"and this command uses {ours!r}: point both at the same one."
        )


@dataclass
class _Startup:
    """Workers this command started and has not heard from yet: a ping per queue, then beat."""

    pings: dict[str, AsyncResult]
    deadline: float
    then: dict[str, list[str]]  # started once every queue has answered
    environ: dict[str, str]
    log: IO[bytes]

    def answered(self, workers: Workers) -> bool:
        """Whether every queue answered (beat is started then); raises when one failed or is late."""
        for queue, result in list(self.pings.items()):
            if not result.ready():
                continue
            if not result.successful():
                raise WorkersUnavailable(
                    f"The {queue} worker failed its first task ({result.result!r}); see {workers.log_path}."
                )
            _check_database(cast(dict[str, str], result.result))
            del self.pings[queue]
        if self.pings and time.monotonic() > self.deadline:
            raise WorkersUnavailable(
                f"The workers did not start within {START_TIMEOUT_S:.0f} s; see {workers.log_path}."
            )
        if self.pings:
            return False
        for name, command in self.then.items():
            workers.children.append(spawn(name, command, self.environ, output=self.log))
        return True


@dataclass
class Workers:
    """The workers a command runs on: ``children`` are the ones it started (none when it found them)."""

    description: str
    children: list[Child] = field(default_factory=list)
    log_path: Path | None = None
    _startup: _Startup | None = None
    _next_look: float = 0.0
    _misses: int = 0

    def check(self) -> None:
        """Raise ``WorkersUnavailable`` once they are gone (or, when started here, do not start in
        time); cheap enough to call ten times a second. Starts beat once the workers answer."""
        for child in self.children:
            if child.process.poll() is not None:
                raise WorkersUnavailable(
                    f"The {child.name} stopped (exit status {child.process.returncode}); see {self.log_path}."
                )
        if self._startup is not None and self._startup.answered(self):
            self._startup = None
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
    """Yield workers for both queues, starting (and afterwards stopping) them when none are live.

    Workers started here are yielded as soon as they are spawned: tasks wait in their queues
    until the workers consume, and ``Workers.check`` says when one fails to start.
    """
    if not broker.private and workers_may_be_listening():
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
    commands = worker_commands(synthesis_processes)
    beat = {"beat": commands.pop("beat")}
    children: list[Child] = []
    with log_path.open("wb") as log:
        try:
            for name, command in commands.items():
                children.append(spawn(name, command, environ, output=log))
            # Sent now, answered the moment each worker consumes: no polling of the workers.
            pings = {queue: ping.apply_async(queue=queue, expires=START_TIMEOUT_S) for queue in QUEUES}
            yield Workers(
                description=(
                    f"on {synthesis_processes} synthesis process(es) and "
                    f"{light_processes(synthesis_processes)} light process(es) started here"
                ),
                children=children,
                log_path=log_path,
                _startup=_Startup(
                    pings=pings,
                    deadline=time.monotonic() + START_TIMEOUT_S,
                    then=beat,
                    environ=environ,
                    log=log,
                ),
            )
        finally:
            stop(children, say=say, label="convert")
