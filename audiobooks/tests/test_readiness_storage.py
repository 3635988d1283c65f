"""/readyz against S3 storage as production uses it (the moto server these tests start)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def test_readyz_finds_the_s3_bucket_and_reports_its_latency(client, s3):
    response = client.get("/readyz")
    assert response.status_code == 200
    storage = json.loads(response.content)["checks"]["storage"]
    assert storage["ok"] is True
    assert storage["latency_ms"] > 0


def test_readyz_is_503_when_the_bucket_is_missing(client, s3, settings):
    options = {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": "ebv-no-such-bucket"}
    settings.STORAGES = {**settings.STORAGES, "default": {**settings.STORAGES["default"], "OPTIONS": options}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.content)["checks"]["storage"]["error"] == "ClientError"
