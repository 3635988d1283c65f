"""The one-command local stack, run for real: Redis, migrations, web, beat and both workers."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

import pytest
import requests
from celery import Celery

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from audiobooks.operators.demo import sample_book_hundredths
from ebookvoice.paths import BASE_DIR
from ebookvoice.tests.settings_probe import clean_environ

START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def devstack(tmp_path):
    port = free_port()
    environ = clean_environ(tmp_path, PATH=f"{BASE_DIR / '.venv' / 'bin'}:/usr/bin:/bin")
    log = (tmp_path / "devstack.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "ebookvoice.devstack", "--port", str(port), "--synthesis-processes", "2"],
        cwd=BASE_DIR,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"devstack did not come up:\n{log.read()}")
        time.sleep(0.5)
    yield process, port, tmp_path, log
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def test_devstack_serves_the_site_runs_both_workers_and_stops_cleanly_on_ctrl_c(devstack):
    process, port, var_dir, log = devstack
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert b"Your ebooks, read aloud." in response.read()
    demo_signs_in_and_email_goes_to_var_mail(port, var_dir, log)

    broker = f"redis+socket://{var_dir / 'run' / 'redis.sock'}"
    client = Celery(broker=broker, backend=broker, set_as_current=False)
    for queue in ("light", "synthesis"):
        answer = client.send_task("ebookvoice.ping", queue=queue).get(timeout=60)
        assert answer["database_name"] == str(var_dir / "db.sqlite3")

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    log.seek(0)
    output = log.read()
    assert f"http://127.0.0.1:{port}/" in output
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in output
    assert output.rstrip().endswith("devstack: stopped.")
    leftovers = subprocess.run(["pgrep", "-f", str(var_dir)], capture_output=True, text=True)
    assert leftovers.stdout == ""


def demo_signs_in_and_email_goes_to_var_mail(port: int, var_dir: Path, log: IO[str]) -> None:
    """The README's demo login lands in the library; an email is a file, announced in a line, linking here."""
    site = f"http://127.0.0.1:{port}"
    browser = requests.Session()
    browser.get(f"{site}/accounts/login/", timeout=10)
    form = {
        "login": DEMO_EMAIL,
        "password": DEMO_PASSWORD,
        "csrfmiddlewaretoken": browser.cookies["csrftoken"],
    }
    signed_in = browser.post(f"{site}/accounts/login/", data=form, timeout=10)
    assert signed_in.url == f"{site}/books/", "straight to the library, no code step"
    with sqlite3.connect(var_dir / "db.sqlite3") as database:
        [(balance,)] = database.execute(
            "SELECT a.balance FROM credits_creditaccount a JOIN accounts_user u ON u.id = a.user_id "
            "WHERE u.email = ?",
            (DEMO_EMAIL,),
        ).fetchall()
    assert balance == sample_book_hundredths()

    stranger = requests.Session()
    stranger.get(f"{site}/accounts/password/reset/", timeout=10)
    form = {"email": DEMO_EMAIL, "csrfmiddlewaretoken": stranger.cookies["csrftoken"]}
    assert stranger.post(f"{site}/accounts/password/reset/", data=form, timeout=10).ok
    [mail] = (var_dir / "mail").glob("*.eml")
    log.seek(0)
    announced = f'mail to {DEMO_EMAIL}: "eBookVoice: Choose a new password" → {mail}'
    assert announced in log.read().splitlines()
    body = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    plain = body.get_body(preferencelist=("plain",))
    assert plain is not None
    assert plain.get_content().rstrip().endswith(site), "SITE_URL follows --port"


def test_devstack_stops_everything_when_one_part_dies(devstack):
    process, port, _, log = devstack
    web = subprocess.run(["pgrep", "-f", f"gunicorn.*{port}"], capture_output=True, text=True)
    master = min(int(pid) for pid in web.stdout.split())
    os.kill(master, signal.SIGKILL)
    assert process.wait(timeout=60) == 1
    log.seek(0)
    assert "devstack: web exited with -9" in log.read()
