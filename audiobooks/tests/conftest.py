"""Fixtures for the audiobooks tests: personas, and storage on a real S3 protocol server or on disk.

``s3_server`` starts moto's server mode in this process on 127.0.0.1 (a free
port) behind ``SigV4Gate``, which checks presigned URLs as S3 does. The
``s3`` fixture points the app's real ``S3Storage`` at a fresh bucket there;
``local_storage`` points ``FileSystemStorage`` at a fresh folder; and
``storage`` runs a test once on each.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from django.test import Client
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import make_server

from audiobooks.tests.s3gate import ACCESS_KEY, SECRET_KEY, SigV4Gate
from ebookvoice.settings.base import s3_client_config

REGION = "us-east-1"


class GatedMotoServer(ThreadedMotoServer):
    """moto's threaded server with ``SigV4Gate`` in front of its WSGI app."""

    def _server_entry(self) -> None:
        app = SigV4Gate(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server on 127.0.0.1, on a port the OS picked."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = GatedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4"),
    )


@dataclass
class StorageUnderTest:
    """Which backend a test runs on, and how to reach it from outside the app."""

    mode: str  # "s3" or "local"
    root: Path | None = None  # local: the media folder
    bucket: str = ""
    client: Any = None  # s3: a boto3 client of our own, for looking behind the app's back
    django_client: Client | None = None

    def fetch(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None
    ) -> tuple[int, CaseInsensitiveDict[str], bytes]:
        """Use a link the way a browser or an app would: over HTTP for S3, through Django locally."""
        headers = dict(headers or {})
        if url.startswith("http"):
            response = requests.request(method, url, headers=headers, data=data, timeout=30)
            return response.status_code, CaseInsensitiveDict(response.headers), response.content
        assert self.django_client is not None
        content_type = headers.pop("Content-Type", "application/octet-stream")
        headers.pop("Content-Length", None)
        reply = self.django_client.generic(
            method, url, data=data or b"", content_type=content_type, headers=headers
        )
        body = b"".join(reply.streaming_content) if reply.streaming else reply.content  # type: ignore[attr-defined]
        return reply.status_code, CaseInsensitiveDict(dict(reply.headers)), body

    def put_raw(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Write an object behind the app's back (no row)."""
        if self.mode == "s3":
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        else:
            assert self.root is not None
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def object_keys(self) -> set[str]:
        if self.mode == "s3":
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            return {entry["Key"] for page in pages for entry in page.get("Contents", ())}
        assert self.root is not None
        return {path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file()}


@pytest.fixture
def s3(s3_server: str, settings: Any) -> StorageUnderTest:
    """The app's S3Storage, as production configures it, on a fresh bucket of the moto server."""
    bucket = f"ebv-test-{uuid.uuid4().hex[:12]}"
    client = s3_client(s3_server)
    client.create_bucket(Bucket=bucket)
    # Assigning STORAGES sends setting_changed, which empties Django's storage
    # caches (storages and default_storage); the settings fixture restores both.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "signature_version": "s3v4",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 15 * 60,
                "file_overwrite": False,
                "client_config": s3_client_config(
                    connect_timeout=settings.STORAGE_S3_CONNECT_TIMEOUT_SECONDS,
                    read_timeout=settings.STORAGE_S3_READ_TIMEOUT_SECONDS,
                ),
            },
        },
    }
    return StorageUnderTest("s3", bucket=bucket, client=client, django_client=Client())


@pytest.fixture
def local_storage(tmp_path: Path, settings: Any) -> StorageUnderTest:
    root = tmp_path / "media"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return StorageUnderTest("local", root=root, django_client=Client())


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> StorageUnderTest:
    """Runs the test once on local files and once on the S3 server."""
    return request.getfixturevalue("s3" if request.param == "s3" else "local_storage")
