"""The storage circuit breaker against real servers: one that accepts connections and never answers, and a
real S3 server (moto, behind the same gate as the other tests) that the test starts and then stops.

After five failures the breaker opens: the API and the web answer 503 with ``Retry-After`` at once, without
waiting for storage, and ``/readyz`` says so.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401  (also gives the breakers their own keys)
from audiobooks.storage import backend
from audiobooks.tests.conftest import REGION, GatedMotoServer, s3_client
from audiobooks.tests.s3gate import ACCESS_KEY, SECRET_KEY
from ebookvoice.errors import ServiceUnavailable
from ebookvoice.settings.base import s3_client_config
from tests.apiclient import person_with_app
from tests.silent_server import SilentServer

pytestmark = pytest.mark.django_db

EPUB = b"PK\x03\x04" + b"e" * 1000


def use_s3(settings: Any, endpoint: str, bucket: str, *, read_timeout: float = 30.0) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "signature_version": "s3v4",
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
                "client_config": s3_client_config(connect_timeout=1.0, read_timeout=read_timeout),
            },
        },
    }


@pytest.fixture(autouse=True)
def many_uploads(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"upload": "1000/h"}


@pytest.fixture
def own_s3_server() -> Iterator[tuple[GatedMotoServer, str]]:
    """A moto S3 server of this test's own, which it may stop."""
    server = GatedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield server, f"http://{host}:{port}"
    finally:
        server.stop()


def upload_file(api: Any) -> Any:
    handle = io.BytesIO(EPUB)
    handle.name = "book.epub"
    return api.http.post("/api/v1/books", {"file": handle}, headers={"X-Session-Token": api.token})


def readyz() -> tuple[int, dict[str, Any], Any]:
    response = Client().get("/readyz")
    return response.status_code, json.loads(response.content), response


def test_a_storage_server_that_never_answers_opens_the_breaker_and_then_requests_fail_at_once(settings):
    _, api = person_with_app("reader@example.com")
    with SilentServer() as server:
        use_s3(settings, server.url, "ebv-hangs", read_timeout=0.3)
        for _ in range(5):
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as failed:
                backend.object_head("users/x/uploads/y.epub")
            assert time.monotonic() - started >= 0.3, "each waited for the read timeout"
            assert type(failed.value.__cause__).__name__ == "ReadTimeoutError"
        accepted = server.accepted

        started = time.monotonic()
        response = upload_file(api)
        assert time.monotonic() - started < 0.5, "the breaker answered, not the hung server"
        assert server.accepted == accepted, "nothing was sent to storage"
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert 25 <= int(response["Retry-After"]) <= 30

        status, body, probe = readyz()
        assert status == 503
        assert (body["checks"]["storage"]["ok"], body["checks"]["storage"]["error"]) == (
            False,
            "ServiceUnavailable",
        )
        assert body["checks"]["storage"]["latency_ms"] < 100, "failed at once"
        assert body["breakers"]["storage"]["state"] == "open"
        assert body["breakers"]["email"]["state"] == "closed"
        assert 25 <= int(probe["Retry-After"]) <= 30


def test_a_real_s3_server_that_stops_opens_the_breaker_for_the_api_the_web_and_readyz(
    settings, own_s3_server
):
    server, endpoint = own_s3_server
    bucket = f"ebv-test-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    use_s3(settings, endpoint, bucket)
    user, api = person_with_app("reader@example.com")

    assert upload_file(api).status_code == 201
    status, body, _ = readyz()
    assert (status, body["breakers"]["storage"]["state"]) == (200, "closed")

    server.stop()
    waits = []
    for _ in range(5):  # the server is gone: each upload fails (connection refused) and is counted
        response = upload_file(api)
        assert response.status_code == 503, response.content
        assert response.json()["error"]["code"] == "service_unavailable"
        waits.append(int(response["Retry-After"]))
    assert waits[:4] == [5, 5, 5, 5], "a failure: try again soon"
    assert 29 <= waits[4] <= 30, "the fifth opened the breaker: its whole period"
    assert readyz()[1]["breakers"]["storage"]["state"] == "open"

    response = upload_file(api)
    assert response.status_code == 503
    assert 25 <= int(response["Retry-After"]) <= 30
    assert "File storage is not answering right now" in response.json()["error"]["message"]

    browser = Client()
    browser.force_login(user)
    page = browser.post("/books/upload", {"file": ContentFile(EPUB, name="book.epub")})
    assert page.status_code == 503
    assert 25 <= int(page["Retry-After"]) <= 30
    assert "File storage is not answering right now" in page.content.decode()

    status, body, probe = readyz()
    assert status == 503
    assert body["checks"]["storage"]["error"] == "ServiceUnavailable"
    assert body["breakers"]["storage"]["state"] == "open"
    assert body["breakers"]["storage"]["retry_after_seconds"] >= 25
    assert int(probe["Retry-After"]) >= 25
