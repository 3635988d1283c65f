"""Every file in tests/corpus/bad/, given to `inspect_book` and to `convert` as a person would:
exit status 2, exactly one line on stderr, and no traceback anywhere.

Each command runs as its own `manage.py` process with the text log format a terminal
gets, so a log line or a traceback printed before the answer is seen here too.
The files run a few at a time, as one test per command: each process pays
Django's start-up, and convert also finds the test's Celery worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from ebookvoice.local_services import database_url_for
from ebookvoice.paths import BASE_DIR, corpus_dir
from ebookvoice.tests.settings_probe import clean_environ

BAD = sorted((corpus_dir() / "bad").iterdir())
AT_ONCE = 4


def test_the_bad_folder_has_the_files_its_readme_lists():
    readme = (corpus_dir() / "README.md").read_text()
    assert len(BAD) >= 19
    assert all(f"`bad/{path.name}`" in readme for path in BAD)


def run_each(command: list[str], environ: dict[str, str]) -> dict[str, subprocess.CompletedProcess[str]]:
    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *command, str(path)],
            cwd=BASE_DIR,
            env=environ,
            capture_output=True,
            text=True,
            timeout=180,
        )

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        return dict(zip((path.name for path in BAD), pool.map(run, BAD), strict=True))


def problems(results: dict[str, subprocess.CompletedProcess[str]]) -> list[str]:
    """What is wrong with each answer: not exit 2, not one stderr line naming the file, a traceback."""
    found = []
    for name, result in results.items():
        lines = result.stderr.splitlines()
        if result.returncode != 2:
            found.append(f"{name}: exit {result.returncode}")
        if len(lines) != 1 or not lines[0].startswith(f"CommandError: {name}: "):
            found.append(f"{name}: stderr is not one line about the file: {result.stderr!r}")
        if "Traceback" in result.stdout + result.stderr:
            found.append(f"{name}: a traceback was printed")
    return found


def test_inspect_book_refuses_every_bad_file_in_one_line(tmp_path):
    environ = clean_environ(tmp_path, DJANGO_SETTINGS_MODULE="ebookvoice.settings.base", LOG_FORMAT="text")
    results = run_each(["inspect_book"], environ)
    assert problems(results) == []
    assert "[corrupt_pdf]" in results["probe_not_a_zip.epub"].stderr


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_convert_refuses_every_bad_file_in_one_line_and_writes_nothing(tmp_path, celery_worker):
    environ = {
        **os.environ,
        "DATABASE_URL": database_url_for(os.environ["DATABASE_URL"], str(connection.settings_dict["NAME"])),
        "LOG_FORMAT": "text",
    }
    out = tmp_path / "out"
    results = run_each(["convert", "--out", str(out)], environ)
    assert problems(results) == []
    assert not any(out.rglob("*.mp3"))
