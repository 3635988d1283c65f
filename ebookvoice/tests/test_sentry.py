"""Errors go to Sentry through its SDK when SENTRY_DSN is set, and nowhere when it is not."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from ebookvoice.tests.settings_probe import clean_environ, run_python

BASE = {"DJANGO_SETTINGS_MODULE": "ebookvoice.settings.base"}


@pytest.fixture
def sentry_ingest() -> Iterator[tuple[str, list[bytes]]]:
    """A stand-in for Sentry's ingest endpoint on 127.0.0.1: the edge of the system, recorded."""
    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_port}/42", received
    finally:
        server.shutdown()


def test_with_a_dsn_an_error_is_reported_with_the_django_and_celery_integrations(tmp_path, sentry_ingest):
    dsn, received = sentry_ingest
    code = (
        "import django, json, logging; django.setup()\n"
        "import sentry_sdk\n"
        "client = sentry_sdk.get_client()\n"
        "print(json.dumps(sorted(client.integrations)))\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    logging.getLogger('audiobooks.pipeline').exception('rendering blew up')\n"
        "sentry_sdk.flush(5)\n"
    )
    result = run_python(code, clean_environ(tmp_path, **BASE, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="ci"))
    assert result.returncode == 0, result.stderr
    integrations = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"django", "celery"} <= set(integrations)
    events = b"".join(received).decode("utf-8", "replace")
    assert "rendering blew up" in events
    assert "ZeroDivisionError" in events
    assert '"environment":"ci"' in events.replace(" ", "")


def test_without_a_dsn_nothing_is_started_or_sent(tmp_path):
    code = "import django; django.setup()\nimport sentry_sdk\nprint(sentry_sdk.get_client().is_active())\n"
    result = run_python(code, clean_environ(tmp_path, **BASE, SENTRY_DSN=""))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"
