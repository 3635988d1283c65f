"""Backups: compose/backup.sh really dumps the database with pg_dump and restores it into a fresh one.

The client tools are pgserver's own (``local_services.postgres_tools_dir``), so
nothing has to be installed and they are never older than the server.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection

from accounts.models import User
from credits.services import credits_grant_by_system
from ebookvoice.local_services import database_url_for, postgres_tools_dir
from ebookvoice.paths import BASE_DIR

SCRIPT = BASE_DIR / "compose" / "backup.sh"


def url_for(name: str) -> str:
    return database_url_for(os.environ["DATABASE_URL"], name)


def backup(*args: str, database: str) -> subprocess.CompletedProcess[str]:
    path = f"{postgres_tools_dir()}{os.pathsep}{os.environ.get('PATH', '')}"
    environ = {**os.environ, "DATABASE_URL": url_for(database), "PATH": path}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url_for("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(url_for("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def counts(database: str) -> tuple[int, int, list[tuple[str, int]]]:
    with psycopg.connect(url_for(database)) as db:
        users = db.execute("SELECT count(*) FROM accounts_user").fetchall()[0][0]
        entries = db.execute("SELECT count(*) FROM credits_creditentry").fetchall()[0][0]
        balances = db.execute(
            "SELECT u.email, a.balance FROM credits_creditaccount a JOIN accounts_user u ON u.id = a.user_id "
            "ORDER BY u.email"
        ).fetchall()
    return users, entries, balances


@pytest.mark.django_db(transaction=True)
def test_a_dump_restores_into_a_fresh_database_with_every_row(tmp_path, fresh_database, owner, stranger):
    credits_grant_by_system(user=owner, hundredths=500, reason="before the backup")
    credits_grant_by_system(user=stranger, hundredths=200, reason="before the backup")
    source = str(connection.settings_dict["NAME"])
    dump = tmp_path / "backups" / "ebookvoice.dump"

    started = time.monotonic()
    dumped = backup("dump", str(dump), database=source)
    dump_seconds = time.monotonic() - started
    assert dumped.returncode == 0, dumped.stderr
    assert dump.stat().st_size > 0
    assert not dump.with_suffix(".dump.partial").exists()
    checked = backup("check", str(dump), database=source)
    assert checked.returncode == 0, checked.stderr
    assert int(checked.stdout.split()[0]) > 10, "tables with data in the dump"

    started = time.monotonic()
    restored = backup("restore", str(dump), database=fresh_database)
    restore_seconds = time.monotonic() - started
    assert restored.returncode == 0, restored.stderr

    assert counts(fresh_database) == counts(source)
    assert counts(fresh_database)[2] == [("owner@example.com", 500), ("stranger@example.com", 200)]
    size = dump.stat().st_size
    print(f"backup timing: dump {dump_seconds:.2f} s, restore {restore_seconds:.2f} s, {size} bytes")


@pytest.mark.django_db(transaction=True)
def test_restoring_into_a_database_that_has_tables_is_refused_and_changes_nothing(tmp_path, owner):
    source = str(connection.settings_dict["NAME"])
    dump = tmp_path / "ebookvoice.dump"
    assert backup("dump", str(dump), database=source).returncode == 0
    refused = backup("restore", str(dump), database=source)
    assert refused.returncode == 1
    assert "refusing to restore" in refused.stderr
    assert User.objects.count() == 1


def test_the_script_explains_itself_without_arguments():
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "dump [FILE]" in result.stderr
    assert "restore FILE" in result.stderr
