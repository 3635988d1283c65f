"""A phone app's whole journey over HTTP against a live server and a real worker.

Sign up through allauth's headless API, verify the address with the emailed
code, upload an EPUB, wait for it to be read, get a quote, convert it with an
Idempotency-Key, poll the status until it completes, and download the M4B and
the chapter MP3s through the links the API hands out.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from accounts.tests.conftest import PASSWORD, code_in, fresh_rate_limits, last_mail_to  # noqa: F401
from audiobooks.tests.ingest_fixtures import story_epub

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

EMAIL = "ada@example.com"


class Phone:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None
        self.http = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**({"X-Session-Token": self.token} if self.token else {}), **kwargs.pop("headers", {})}
        response = self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            body = response.json()
            if isinstance(body, dict) and (token := body.get("meta", {}).get("session_token")):
                self.token = token
        return response

    def poll(self, path: str, done: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = self.call("GET", path).json()
            if done(body) or time.monotonic() > deadline:
                return dict(body)
            time.sleep(0.5)


def test_a_new_reader_signs_up_uploads_converts_and_downloads_the_audiobook_from_a_phone(
    live_server, celery_worker, tmp_path, settings
):
    settings.CREDITS_RATE_LIMITS = {"conversion": "100/h"}
    phone = Phone(live_server.url)

    signup = phone.call("POST", "/_allauth/app/v1/auth/signup", json={"email": EMAIL, "password": PASSWORD})
    assert signup.status_code == 401
    assert [f["id"] for f in signup.json()["data"]["flows"] if f.get("is_pending")] == ["verify_email"]
    assert phone.token
    verified = phone.call(
        "POST", "/_allauth/app/v1/auth/email/verify", json={"key": code_in(last_mail_to(EMAIL))}
    )
    assert verified.status_code == 200, verified.text

    me = phone.call("GET", "/api/v1/me").json()
    assert (me["email"], me["email_verified"]) == (EMAIL, True)
    credits = phone.call("GET", "/api/v1/credits").json()
    assert (credits["balance"], credits["balance_hundredths"]) == ("3.00", 300), credits  # the signup grant

    epub = story_epub(tmp_path, titles=("The Harbour", "The Storm", "Morning"))
    with epub.open("rb") as file:
        uploaded = phone.call("POST", "/api/v1/books", files={"file": ("lighthouse.epub", file)})
    assert uploaded.status_code == 201, uploaded.text
    book = uploaded.json()["id"]
    read = phone.poll(f"/api/v1/books/{book}", lambda b: b["status"] in {"ready", "failed"}, timeout=60)
    assert read["status"] == "ready", read
    chapters = [c["index"] for c in read["chapters"] if c["included"]]
    assert len(chapters) == 3

    quote = phone.call("POST", f"/api/v1/books/{book}/quote", json={"chapters": chapters}).json()
    price = quote["credits_hundredths"]  # a hundredth per started 500 characters
    assert (quote["credits"], price, quote["affordable"]) == (
        f"{price / 100:.2f}",
        -(-quote["characters"] // 500),
        True,
    )

    order = {"book": book, "chapters": chapters, "voice": "piper:en_US-joe-medium", "speed": 1.0}
    created = phone.call("POST", "/api/v1/conversions", json=order, headers={"Idempotency-Key": "journey-1"})
    assert created.status_code == 201, created.text
    conversion = created.json()["id"]
    # The phone lost the answer and sends it again: the same conversion, charged once.
    again = phone.call("POST", "/api/v1/conversions", json=order, headers={"Idempotency-Key": "journey-1"})
    assert (again.status_code, again.json()["id"]) == (201, conversion)

    seen: list[float] = []

    def finished(status: dict[str, Any]) -> bool:
        seen.append(status["progress"]["percent"])
        return status["status"] in {"completed", "failed", "cancelled"}

    status = phone.poll(f"/api/v1/conversions/{conversion}", finished, timeout=240)
    assert status["status"] == "completed", status
    assert seen == sorted(seen)
    assert status["progress"]["percent"] == 100.0
    assert status["progress"]["eta_seconds"] is None
    assert [c["status"] for c in status["chapters"]] == ["ready"] * 3

    files = phone.call("GET", f"/api/v1/conversions/{conversion}/downloads").json()
    m4b = requests.get(files["m4b"]["url"], timeout=30)  # a signed link: no token needed
    assert m4b.status_code == 200
    assert m4b.content[4:8] == b"ftyp"
    assert len(m4b.content) == files["m4b"]["size"]
    for chapter in files["chapters"]:
        mp3 = requests.get(chapter["mp3"]["url"], timeout=30)
        assert mp3.status_code == 200
        assert mp3.content[:3] == b"ID3"
        assert requests.get(chapter["captions"]["url"], timeout=30).text.startswith("WEBVTT")

    assert phone.call("GET", "/api/v1/credits").json()["balance_hundredths"] == 300 - price
    assert (
        phone.call("PUT", f"/api/v1/books/{book}/progress", json={"chapter": 2, "position_ms": 1500}).json()[
            "chapter"
        ]
        == 2
    )
