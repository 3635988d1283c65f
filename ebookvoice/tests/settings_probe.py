"""Run Python in a fresh interpreter under a chosen environment.

Settings are read once per process, so each profile and environment is
checked in a process of its own, with nothing inherited from the test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ebookvoice.paths import BASE_DIR

# Variables that would leak the test run's own services into the probe.
_SERVICE_VARIABLES = {
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL", "EMAIL_URL",
    "DJANGO_SETTINGS_MODULE", "EBOOKVOICE_TEST_RUN_ID", "EBOOKVOICE_VAR_DIR",
}  # fmt: skip


def clean_environ(var_dir: Path, **overrides: str) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if key not in _SERVICE_VARIABLES}
    environ["EBOOKVOICE_VAR_DIR"] = str(var_dir)
    environ.update(overrides)
    return environ


def run_python(code: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=120
    )


def settings_json(environ: dict[str, str], expression: str) -> Any:
    """Evaluate ``expression`` (with ``settings`` in scope) after django.setup(); return it decoded."""
    code = (
        "import json, django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        f"print(json.dumps({expression}, default=str))\n"
    )
    result = run_python(code, environ)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def manage(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
