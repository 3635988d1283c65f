from __future__ import annotations

import subprocess
import sys

from ebookvoice.paths import BASE_DIR
from ebookvoice.tests.settings_probe import clean_environ, manage

WRITER = """
import django, sys
django.setup()
from django.db import transaction
from accounts.models import User
worker = sys.argv[1]
for i in range(40):
    # Read, then write, in one transaction: the pattern that fails with
    # "database is locked" under SQLite's default deferred transactions.
    with transaction.atomic():
        User.objects.filter(email__startswith=worker).count()
        User.objects.create(email=f"{worker}-{i}@example.com")
print("ok")
"""


def test_concurrent_writers_on_the_embedded_sqlite_never_hit_database_is_locked(tmp_path):
    environ = clean_environ(tmp_path, DJANGO_SETTINGS_MODULE="ebookvoice.settings.base")
    assert manage(["migrate", "--noinput"], environ).returncode == 0
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"w{n}"],
            cwd=BASE_DIR,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    outcomes = [writer.communicate(timeout=120) for writer in writers]
    for (stdout, stderr), writer in zip(outcomes, writers, strict=True):
        assert writer.returncode == 0, stderr
        assert stdout.strip() == "ok"
    count = manage(["shell", "-c", "from accounts.models import User; print(User.objects.count())"], environ)
    assert count.stdout.strip().splitlines()[-1] == "160"
