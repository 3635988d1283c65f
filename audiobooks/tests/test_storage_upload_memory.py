"""A big browser upload passes through a real server with flat memory: measured, not assumed.

gunicorn serves the app in a child process (the test database, and storage on
a folder of this test or on the moto server); a 150 MB upload is streamed to
it from a generator, and the worker's peak resident memory (VmHWM) is read
before and after.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils.crypto import get_random_string

from audiobooks.models import Book, StoredObject
from ebookvoice.paths import BASE_DIR

UPLOAD_MB = 150
PEAK_GROWTH_BUDGET_MB = 40
CHUNK = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (gunicorn's worker under its master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


class _MultipartBody:
    """A multipart body made while it is sent, with a known length (so no chunked encoding)."""

    def __init__(self, size: int, boundary: str, filename: str) -> None:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/epub+zip\r\n\r\n"
        ).encode()
        self._parts = self._generate(head, size, f"\r\n--{boundary}--\r\n".encode())
        self._length = len(head) + size + len(f"\r\n--{boundary}--\r\n")
        self._buffer = b""

    @staticmethod
    def _generate(head: bytes, size: int, tail: bytes) -> Iterator[bytes]:
        yield head
        block = b"PK\x03\x04" + os.urandom(CHUNK - 4)
        sent = 0
        while sent < size:
            piece = block[: min(CHUNK, size - sent)]
            sent += len(piece)
            yield piece
        yield tail

    def __len__(self) -> int:
        return self._length

    def read(self, amount: int = -1) -> bytes:
        while amount < 0 or len(self._buffer) < amount:
            piece = next(self._parts, None)
            if piece is None:
                break
            self._buffer += piece
        data, self._buffer = (
            (self._buffer, b"") if amount < 0 else (self._buffer[:amount], self._buffer[amount:])
        )
        return data


@pytest.fixture
def server(request, tmp_path, owner):
    """gunicorn on a free port, signed in as ``owner``; yields (base URL, worker pid, cookies, headers)."""
    mode = request.param
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ebookvoice.settings.test",
        "DATABASE_URL": urlsplit(os.environ["DATABASE_URL"])
        ._replace(path=f"/{connection.settings_dict['NAME']}")
        .geturl(),
        "EBOOKVOICE_TEST_MEDIA_ROOT": str(tmp_path / "media"),
        "TMPDIR": str(tmp_path),
    }
    if mode == "s3":
        s3 = request.getfixturevalue("s3")
        options = django_settings.STORAGES["default"]["OPTIONS"]
        environ |= {
            "AWS_S3_ENDPOINT_URL": options["endpoint_url"],
            "AWS_ACCESS_KEY_ID": options["access_key"],
            "AWS_SECRET_ACCESS_KEY": options["secret_key"],
            "AWS_STORAGE_BUCKET_NAME": s3.bucket,
            "AWS_S3_REGION_NAME": options["region_name"],
        }
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ebookvoice.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "300", "--log-level", "warning"],
        cwd=BASE_DIR, env=environ, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or its worker still booting on a busy machine
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        client = Client()
        client.force_login(owner)
        token = get_random_string(32)  # the alphabet Django accepts in a CSRF cookie
        session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        cookies = {django_settings.SESSION_COOKIE_NAME: session, django_settings.CSRF_COOKIE_NAME: token}
        (worker,) = _children(process.pid)
        yield base, worker, cookies, {"X-CSRFToken": token, "Accept": "application/json"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _upload(server, size: int, name: str) -> requests.Response:
    base, _, cookies, headers = server
    boundary = secrets.token_hex(16)
    return requests.post(
        f"{base}/books/upload",
        data=_MultipartBody(size, boundary, name),
        cookies=cookies,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=300,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server", ["local", "s3"], indirect=True)
def test_a_150_mb_upload_streams_through_the_view_with_flat_memory(server, owner, capsys):
    warm = _upload(server, 20 * 1024 * 1024, "warm-up.epub")  # past the multipart threshold
    assert warm.status_code == 201, warm.text
    before = _peak_rss_mb(server[1])
    started = time.monotonic()
    response = _upload(server, UPLOAD_MB * 1024 * 1024, "big.epub")
    seconds = time.monotonic() - started
    after = _peak_rss_mb(server[1])
    assert response.status_code == 201, response.text
    book = Book.objects.get(uuid=response.json()["book"])
    assert book.original_size == UPLOAD_MB * 1024 * 1024
    assert StoredObject.objects.get(key=book.original_key).size == book.original_size
    with capsys.disabled():
        print(
            f"\n[upload memory] {UPLOAD_MB} MB upload: worker peak RSS {before:.0f} MB -> {after:.0f} MB "
            f"(+{after - before:.1f} MB) in {seconds:.1f} s"
        )
    assert after - before < PEAK_GROWTH_BUDGET_MB


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server", ["local"], indirect=True)
def test_an_upload_over_the_cap_is_refused_by_the_real_server_with_413(server):
    response = _upload(server, 201 * 1000 * 1000, "too-big.epub")
    assert response.status_code == 413
    assert "uploads can be at most 200 MB" in response.json()["error"]["message"]
    assert not Book.objects.exists()
