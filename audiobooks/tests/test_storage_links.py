"""Download and upload links: the round trip over HTTP, lifetimes, signed headers, tampering.

Each test runs on the S3 protocol server (moto, with presigned URLs checked as
S3 checks them) and on local storage, where the app signs its own links.
"""

from __future__ import annotations

import io
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from audiobooks.models import StoredObject
from audiobooks.storage import backend, links
from audiobooks.tests.s3gate import check_presigned, presigned_signature

pytestmark = pytest.mark.django_db

KEY = "users/00000000-0000-0000-0000-000000000001/books/00000000-0000-0000-0000-000000000002/book.m4b"
AUDIO = bytes(range(256)) * 40


def _params(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _tamper(url: str) -> str:
    if url.startswith("http"):
        return url.replace("response-content-type=audio%2Fmp4", "response-content-type=text%2Fhtml")
    head, token = url.rstrip("/").rsplit("/", 1)
    return f"{head}/{token[:-3]}{'AAA' if token[-3:] != 'AAA' else 'BBB'}"


def test_a_download_link_answers_with_the_file_its_type_and_an_rfc6266_filename(storage):
    backend.object_put(KEY, io.BytesIO(AUDIO), content_type="audio/mp4")
    link = links.download_link(key=KEY, filename="Les Misérables.m4b", content_type="audio/mp4")
    status, headers, body = storage.fetch("GET", link.url)
    assert status == 200
    assert body == AUDIO
    assert headers["Content-Type"] == "audio/mp4"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"Les Miserables.m4b\"; filename*=UTF-8''Les%20Mis%C3%A9rables.m4b"
    )


def test_a_download_link_lives_fifteen_minutes_at_most(storage, settings):
    link = links.download_link(key=KEY, filename="a.m4b", content_type="audio/mp4", expires_in=3600)
    assert (link.expires_at.timestamp() - time.time()) <= 15 * 60 + 1
    if storage.mode == "s3":
        assert int(_params(link.url)["X-Amz-Expires"]) == 900
    else:
        token = link.url.rstrip("/").rsplit("/", 1)[1]
        assert signing.loads(token, salt="audiobooks.storage.link.get")["e"] <= time.time() + 900
    settings.STORAGE_LINK_MAX_AGE_SECONDS = 3600
    with pytest.raises(ImproperlyConfigured, match="at most 900"):
        links.download_link(key=KEY, filename="a.m4b", content_type="audio/mp4")


def test_an_expired_link_is_refused_and_a_fresh_one_works_again(storage, settings):
    settings.STORAGE_LINK_MAX_AGE_SECONDS = 5
    backend.object_put(KEY, io.BytesIO(AUDIO), content_type="audio/mp4")
    link = links.download_link(key=KEY, filename="a.m4b", content_type="audio/mp4", disposition="inline")
    assert storage.fetch("GET", link.url, headers={"Range": "bytes=0-99"})[0] == 206
    # The clock moves for the S3 server too: it runs in this process.
    with time_machine.travel(time.time() + 6.5):
        status, _, body = storage.fetch("GET", link.url, headers={"Range": "bytes=100-199"})
    assert status == 403
    assert b"expired" in body
    # What a player does when its link expires mid-book: ask for a fresh one.
    fresh = links.download_link(key=KEY, filename="a.m4b", content_type="audio/mp4", disposition="inline")
    status, _, body = storage.fetch("GET", fresh.url, headers={"Range": "bytes=100-199"})
    assert (status, body) == (206, AUDIO[100:200])


def test_a_tampered_download_link_is_refused(storage):
    backend.object_put(KEY, io.BytesIO(AUDIO), content_type="audio/mp4")
    link = links.download_link(key=KEY, filename="a.m4b", content_type="audio/mp4")
    assert storage.fetch("GET", _tamper(link.url))[0] == 403


def awaiting_upload(owner, key: str, size: int) -> None:
    """A direct upload started and not finished: what a local upload link may PUT to (and only that)."""
    StoredObject.objects.create(
        key=key, owner=owner, kind=StoredObject.Kind.ORIGINAL, size=size, content_type="application/pdf",
        filename="a.pdf", expires_at=timezone.now() + timedelta(hours=2),
    )  # fmt: skip


def test_an_upload_link_stores_exactly_the_file_announced(storage, owner):
    data = b"%PDF-1.7 " + b"x" * 5000
    awaiting_upload(owner, "users/u/uploads/a.pdf", len(data))
    link = links.upload_link(key="users/u/uploads/a.pdf", content_type="application/pdf", size=len(data))
    assert link.headers == {
        "Content-Type": "application/pdf",
        "Content-Length": str(len(data)),
        "If-None-Match": "*",
    }
    status, _, _ = storage.fetch("PUT", link.url, headers=link.headers, data=data)
    assert status == 200
    head = backend.object_head("users/u/uploads/a.pdf")
    assert head is not None
    assert head.size == len(data)
    if storage.mode == "s3":
        assert head.content_type == "application/pdf"


def test_an_upload_with_another_content_type_than_signed_is_refused(storage, owner):
    data = b"<html>not a pdf</html>"
    awaiting_upload(owner, "users/u/uploads/a.pdf", len(data))
    link = links.upload_link(key="users/u/uploads/a.pdf", content_type="application/pdf", size=len(data))
    status, _, _ = storage.fetch("PUT", link.url, headers={"Content-Type": "text/html"}, data=data)
    assert status == 403
    assert backend.object_head("users/u/uploads/a.pdf") is None


def test_an_upload_of_another_size_than_signed_is_refused(storage, owner):
    awaiting_upload(owner, "users/u/uploads/a.pdf", 100)
    link = links.upload_link(key="users/u/uploads/a.pdf", content_type="application/pdf", size=100)
    status, _, _ = storage.fetch(
        "PUT", link.url, headers={"Content-Type": "application/pdf"}, data=b"%PDF" + b"x" * 500
    )
    assert status == 403
    assert backend.object_head("users/u/uploads/a.pdf") is None


def test_presigned_urls_sign_what_s3_must_enforce_and_botocore_agrees_with_their_signature(s3):
    upload = links.upload_link(key="users/u/uploads/a.epub", content_type="application/epub+zip", size=1234)
    params = _params(upload.url)
    assert params["X-Amz-SignedHeaders"] == "content-length;content-type;host;if-none-match"
    assert int(params["X-Amz-Expires"]) <= 900
    host = urlsplit(upload.url).netloc
    good = {
        "host": host,
        "content-type": "application/epub+zip",
        "content-length": "1234",
        "if-none-match": "*",
    }
    assert presigned_signature(method="PUT", url=upload.url, headers=good) == params["X-Amz-Signature"]
    assert check_presigned(method="PUT", url=upload.url, headers=good).ok
    for name, wrong in (("content-type", "text/plain"), ("content-length", "99999"), ("if-none-match", "x")):
        verdict = check_presigned(method="PUT", url=upload.url, headers={**good, name: wrong})
        assert verdict.code == "SignatureDoesNotMatch"

    download = links.download_link(key=KEY, filename="Ünïcode.m4b", content_type="audio/mp4", expires_in=5)
    params = _params(download.url)
    assert params["X-Amz-SignedHeaders"] == "host"
    assert params["X-Amz-Expires"] == "5"
    assert params["response-content-type"] == "audio/mp4"
    assert params["response-content-disposition"].startswith('attachment; filename="Unicode.m4b"')
    assert (
        presigned_signature(method="GET", url=download.url, headers={"host": host})
        == params["X-Amz-Signature"]
    )
    later = time.time() + 6
    from datetime import UTC, datetime

    verdict = check_presigned(
        method="GET", url=download.url, headers={"host": host}, now=datetime.fromtimestamp(later, UTC)
    )
    assert (verdict.code, verdict.message) == ("AccessDenied", "Request has expired")
