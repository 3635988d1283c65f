"""Probes for the load balancer and the orchestrator.

- ``/healthz`` (liveness): the process answers; nothing else is touched.
- ``/readyz`` (readiness): the database, the cache and storage answer, each
  timed; 503 when any fails, so this instance leaves the load balancer. It
  also shows each circuit breaker (``ebookvoice.breakers``: storage, email):
  while storage's is open, its check fails at once (``ServiceUnavailable``)
  and the 503 carries ``Retry-After``.

Workers are deliberately not part of readiness: a worker outage must not take
the web tier (and with it every download) out of service. Their heartbeats
and the queue depths are on the staff status page and in the metrics.

``HealthCheckMiddleware`` answers both paths before any other middleware, so
a probe that sends the container's own address as Host, over plain HTTP,
needs no ALLOWED_HOSTS entry, no session and no redirect.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

from .breakers import breaker_states, guarded

READY_CACHE_KEY = "readyz:probe"
# For any other storage backend: a key no object ever has, asked about.
STORAGE_PROBE_KEY = "healthz/probe-never-written"


@dataclass(frozen=True)
class Check:
    ok: bool
    latency_ms: float
    error: str = ""


def _timed(probe: Callable[[], None]) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as error:
        # The class names the failure well enough for an operator, and leaks no URL or secret.
        return Check(False, _since(started), type(error).__name__)
    return Check(True, _since(started))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("unexpected answer")


def check_cache() -> None:
    token = uuid.uuid4().hex
    cache.set(READY_CACHE_KEY, token, timeout=10)
    if cache.get(READY_CACHE_KEY) != token:
        raise RuntimeError("the cache did not keep a value")


def check_storage() -> None:
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        # exists() on a local folder answers False even when the folder is gone.
        location = str(storage.location)
        if not (os.path.isdir(location) and os.access(location, os.W_OK)):
            raise FileNotFoundError("the media folder is missing or not writable")
        return
    client = getattr(getattr(storage, "connection", None), "meta", None)
    bucket = getattr(storage, "bucket_name", None)
    if client is not None and bucket:
        # S3/R2: HEAD the bucket. Unlike asking for a missing key, which answers
        # "no" for a missing bucket too, this fails on a wrong bucket or key.
        # Through the breaker: while it is open this fails at once, and once its period
        # is over the load balancer's probe is the trial call that closes it again.
        guarded("storage", client.client.head_bucket, Bucket=bucket)
        return
    storage.exists(STORAGE_PROBE_KEY)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "storage": check_storage,
}


def readiness() -> dict[str, Check]:
    return {name: _timed(probe) for name, probe in CHECKS.items()}


def healthz(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok", content_type="text/plain")
    add_never_cache_headers(response)
    return response


def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    ready = all(check.ok for check in checks.values())
    body = {name: asdict(check) for name, check in checks.items()}
    breakers: dict[str, Any]
    try:
        breakers = {name: asdict(state) for name, state in breaker_states().items()}
    except Exception as error:  # the probe must answer whatever breaks
        breakers = {"error": type(error).__name__}
    response = JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": body, "breakers": breakers},
        status=200 if ready else 503,
    )
    waits = [state.get("retry_after_seconds") for state in breakers.values() if isinstance(state, dict)]
    if not ready and any(waits):
        response["Retry-After"] = str(max(wait for wait in waits if wait))
    add_never_cache_headers(response)
    return response


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answer GET and HEAD on the probe paths at once; everything else goes on down the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
