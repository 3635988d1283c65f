"""Liveness and readiness probes: what takes an instance out of the load balancer, and what must not."""

from __future__ import annotations

import json

import pytest

from ebookvoice.tests.settings_probe import clean_environ, run_python

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _checks(response) -> dict:
    return json.loads(response.content)["checks"]


@pytest.mark.django_db
def test_readyz_reports_database_cache_and_storage_each_with_its_latency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "storage"}
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert isinstance(check["latency_ms"], float), name
        assert 0 <= check["latency_ms"] < 5000, name
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_cache_when_redis_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = _checks(response)
    assert checks["cache"]["ok"] is False
    assert checks["cache"]["error"] == "ConnectionError"
    assert checks["database"]["ok"]
    assert checks["storage"]["ok"]


@pytest.mark.django_db
def test_readyz_is_503_when_the_media_folder_is_gone(client, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "missing"), "base_url": None},
        },
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert _checks(response)["storage"] == {
        "ok": False,
        "latency_ms": _checks(response)["storage"]["latency_ms"],
        "error": "FileNotFoundError",
    }


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path):
    # Its own process: the test database connection stays out of it.
    environ = clean_environ(
        tmp_path,
        DJANGO_SETTINGS_MODULE="ebookvoice.settings.base",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    code = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/readyz')\n"
        "print(r.status_code, r.content.decode())\n"
    )
    result = run_python(code, environ)
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    checks = json.loads(body)["checks"]
    assert status == "503"
    assert checks["database"]["ok"] is False
    assert checks["database"]["error"] == "OperationalError"
    assert checks["cache"]["ok"] is True


@pytest.mark.django_db
def test_a_broker_and_worker_outage_does_not_take_the_web_tier_out_of_the_load_balancer(client, settings):
    settings.CELERY_BROKER_URL = DEAD_REDIS
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert "worker" not in response.content.decode()


@pytest.mark.django_db
def test_probes_answer_a_host_the_site_does_not_serve_while_pages_refuse_it(client):
    # Load balancers and `docker compose` health checks send the container's own address.
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200


def test_probes_only_answer_get_and_head(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_healthz_touches_nothing_even_with_every_dependency_down(client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}
    }
    settings.CELERY_BROKER_URL = DEAD_REDIS
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")
