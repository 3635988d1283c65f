"""Structured logs: JSON lines carrying the request id and the conversion id, from web and workers."""

from __future__ import annotations

import json
import logging

import pytest

from ebookvoice.logs import (
    ContextFilter,
    conversion_id_var,
    logging_config,
    on_before_task_publish,
    on_task_postrun,
    on_task_prerun,
    request_id_var,
)
from ebookvoice.tests.settings_probe import clean_environ, run_python


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_web_process_logs_each_request_as_json_with_the_proxys_request_id(tmp_path):
    environ = clean_environ(tmp_path, DJANGO_SETTINGS_MODULE="ebookvoice.settings.base", LOG_FORMAT="json")
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/', HTTP_HOST='localhost', HTTP_X_REQUEST_ID='lb-7f3a9c21-0001')\n"
        "print('header', r['X-Request-ID'])\n"
    )
    result = run_python(code, environ)
    assert result.returncode == 0, result.stderr
    assert "header lb-7f3a9c21-0001" in result.stdout
    [line] = [entry for entry in json_lines(result.stderr) if entry["logger"] == "ebookvoice.request"]
    assert line["message"] == "GET / 200"
    assert line["request_id"] == "lb-7f3a9c21-0001"
    assert line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"], line["view"]) == ("GET", "/", 200, "home")
    assert line["duration_ms"] >= 0


@pytest.mark.django_db
def test_a_request_without_an_id_or_with_a_hostile_one_gets_a_fresh_id(client):
    made = client.get("/healthz-nope")["X-Request-ID"]
    assert len(made) == 32
    hostile = client.get("/", HTTP_X_REQUEST_ID='x" injected\nline')["X-Request-ID"]
    assert hostile != 'x" injected\nline'
    assert len(hostile) == 32


@pytest.mark.django_db
def test_every_log_line_during_a_request_carries_its_id(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/", HTTP_X_REQUEST_ID="req-0123456789")
    records = [r for r in caplog.records if r.name == "ebookvoice.request"]
    assert records[-1].request_id == "req-0123456789"
    assert request_id_var.get() == "", "the id does not outlive its request"


def test_the_json_formatter_writes_both_ids_and_the_message():
    config = logging_config(level="INFO", fmt="json")["formatters"]["json"]
    from pythonjsonlogger.json import JsonFormatter

    formatter = JsonFormatter(config["fmt"], rename_fields=config["rename_fields"])
    record = logging.LogRecord(
        "audiobooks.pipeline", logging.WARNING, __file__, 1, "Part %s failed", (7,), None
    )
    request_token, conversion_token = request_id_var.set("r-1"), conversion_id_var.set("c-1")
    try:
        ContextFilter().filter(record)
    finally:
        request_id_var.reset(request_token)
        conversion_id_var.reset(conversion_token)
    line = json.loads(formatter.format(record))
    assert line["message"] == "Part 7 failed"
    assert (line["request_id"], line["conversion_id"], line["level"]) == ("r-1", "c-1", "WARNING")


@pytest.mark.django_db
def test_a_task_logs_with_the_uuid_of_the_conversion_it_works_on_and_the_request_that_sent_it(owner):
    from audiobooks.models import Book, Conversion

    book = Book.objects.create(owner=owner, original_key="k", original_filename="a.epub", original_size=1)
    conversion = Conversion.objects.create(
        owner=owner, book=book, voice_key="piper:x", speed=1.0, characters=1, charge_hundredths=0
    )
    headers: dict[str, str] = {}
    token = request_id_var.set("req-sent-from-web")
    try:
        on_before_task_publish(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers == {"request_id": "req-sent-from-web"}

    class Task:  # what Celery hands the signal: the task, its name and its request
        name = "audiobooks.assemble_book"

        class request:
            request_id = "req-sent-from-web"

    on_task_prerun(task=Task, args=(conversion.pk,))
    assert conversion_id_var.get() == str(conversion.uuid)
    assert request_id_var.get() == "req-sent-from-web"
    on_task_postrun()
    assert conversion_id_var.get() == ""


@pytest.mark.django_db(transaction=True)
def test_a_task_run_by_celery_in_another_process_writes_json_lines_with_the_conversion_id(owner):
    """The real assemble task through Celery's tracer (it sends the signals); the book is not assembling."""
    import os
    import subprocess
    import sys
    import time

    from django.db import connection

    from audiobooks.models import Book, Conversion
    from ebookvoice.local_services import database_url_for
    from ebookvoice.paths import BASE_DIR

    book = Book.objects.create(owner=owner, original_key="k", original_filename="a.epub", original_size=1)
    conversion = Conversion.objects.create(
        owner=owner, book=book, voice_key="piper:x", speed=1.0, characters=1, charge_hundredths=0
    )
    url = database_url_for(os.environ["DATABASE_URL"], str(connection.settings_dict["NAME"]))
    code = (
        "import django; django.setup()\n"
        "import logging\n"
        "from audiobooks.tasks import assemble_book\n"
        f"assemble_book.apply(args=({conversion.pk},))\n"
    )
    environ = {**os.environ, "DATABASE_URL": url, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    lines = [line for line in json_lines(done.stderr) if line.get("conversion_id")]
    assert lines, done.stderr
    assert {line["conversion_id"] for line in lines} == {str(conversion.uuid)}


def test_the_text_format_is_one_readable_line_with_the_ids_only_when_there_are_some():
    from ebookvoice.logs import TextFormatter

    record = logging.LogRecord(
        "audiobooks.pipeline", logging.WARNING, __file__, 1, "Part %s failed", (7,), None
    )
    ContextFilter().filter(record)
    assert TextFormatter().format(record).endswith(" WARNING audiobooks.pipeline: Part 7 failed")
    record.conversion_id = "c-1"
    assert TextFormatter().format(record).endswith(": Part 7 failed [conversion_id=c-1]")


def test_an_unknown_log_format_is_refused_by_name(tmp_path):
    environ = clean_environ(tmp_path, DJANGO_SETTINGS_MODULE="ebookvoice.settings.base", LOG_FORMAT="plain")
    result = run_python("import django; django.setup()", environ)
    assert result.returncode != 0
    assert "LOG_FORMAT must be one of json, text, not 'plain'." in result.stderr


PRINT_LOG_FORMAT = "from django.conf import settings; print(settings.LOG_FORMAT)"


@pytest.mark.parametrize(("terminal", "expected"), [(True, "text"), (False, "json")])
def test_manage_py_logs_text_at_a_terminal_and_json_otherwise(tmp_path, terminal, expected):
    import os
    import pty
    import subprocess
    import sys

    from ebookvoice.paths import BASE_DIR

    environ = clean_environ(tmp_path, DJANGO_SETTINGS_MODULE="ebookvoice.settings.base")
    environ.pop("LOG_FORMAT", None)
    controller, terminal_end = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", PRINT_LOG_FORMAT],
            cwd=BASE_DIR,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=terminal_end if terminal else subprocess.DEVNULL,
            text=True,
            timeout=60,
        )
    finally:
        os.close(terminal_end)
        os.close(controller)
    assert result.stdout.strip() == expected
