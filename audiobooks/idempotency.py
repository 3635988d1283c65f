"""``Idempotency-Key`` for the API's create endpoints, after the IETF draft (httpapi-idempotency-key-header).

One service, ``idempotent_response``, wraps the work of a request:

- the first request with a key claims it (a row, committed at once) and does
  the work; a successful response (2xx) is stored with the row;
- the same key and the same request again gets the stored response: the same
  status and body, marked ``Idempotent-Replayed: true``, doing nothing and
  using no rate-limit slot;
- the same key while the first request is still being served is refused with
  409 (``IdempotencyKeyInFlight``);
- the same key with a different request (method, path or body) is refused
  with 422 (``IdempotencyKeyReused``);
- keys belong to the user who sent them: another user's identical key is
  another key.

A refusal (a 4xx from the work) is not stored: nothing was done, so the key is
released and a retry, say once credits were bought, is a fresh attempt. A
request whose process died mid-way leaves its row in flight; after
``IN_FLIGHT_LEASE`` the next request with the key takes it over and does the
work again, which is safe because the work is itself idempotent on the key
(``conversion_submit`` returns the conversion it already made).

Keys are kept for ``RECORD_RETENTION`` (48 hours); ``idempotency_records_purge``,
run by ``purge_expired``, deletes older ones, so the same key after that is a
new request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .errors import BookError, InvalidIdempotencyKey
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Longer than any create request takes; a row in flight for longer was abandoned.
IN_FLIGHT_LEASE = timedelta(minutes=2)
# How long a key is remembered: a client retries within minutes, hours at most
# (the draft suggests 24 h); ``purge_expired`` forgets older keys.
RECORD_RETENTION = timedelta(hours=48)


class IdempotencyKeyInFlight(BookError):
    code = "idempotency_key_in_flight"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still being processed. Wait for its answer, "
            "then send it again to get the same answer."
        )


class IdempotencyKeyReused(BookError):
    code = "idempotency_key_reused"
    http_status = 422

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different request. Use a new key for a new request."
        )


@dataclass(frozen=True)
class IdempotentResponse:
    status: int
    body: Any
    replayed: bool


def idempotency_key_parse(header: str | None) -> str | None:
    """The key from the header, or None when there is none.

    The draft makes the value a structured-field string (``"…"``, RFC 8941);
    a bare value is accepted too, as most clients send one.
    """
    if header is None:
        return None
    value = header.strip()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not value or not value.isprintable():
        raise InvalidIdempotencyKey("The Idempotency-Key header must be a non-empty string.")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(f"An idempotency key can be at most {MAX_KEY_LENGTH} characters long.")
    return value


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """What makes two requests the same: method, path and the body as data (not its spacing or key order)."""
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_response(
    *, user: User, key: str | None, fingerprint: str, work: Callable[[], tuple[int, Any]]
) -> IdempotentResponse:
    """Run ``work`` (which returns status and body) once per user and key; see the module's docstring.

    Without a key, ``work`` simply runs. ``work`` must own its transactions:
    the claim is committed before it runs, so a duplicate arriving meanwhile
    sees it.
    """
    if key is None:
        status, body = work()
        return IdempotentResponse(status, body, replayed=False)
    stored = _claim(user=user, key=key, fingerprint=fingerprint)
    if stored is not None:
        return stored
    try:
        status, body = work()
    except BaseException:
        _release(user=user, key=key)
        raise
    if 200 <= status < 300:
        _complete(user=user, key=key, status=status, body=body)
    else:
        _release(user=user, key=key)
    return IdempotentResponse(status, body, replayed=False)


@transaction.atomic(durable=True)
def _claim(*, user: User, key: str, fingerprint: str) -> IdempotentResponse | None:
    """Take the key for this request (None), or answer with what it already got."""
    record, created = IdempotencyRecord.objects.select_for_update().get_or_create(
        user=user, key=key, defaults={"fingerprint": fingerprint}
    )
    if created:
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.state == IdempotencyRecord.State.COMPLETED:
        assert record.response_status is not None
        return IdempotentResponse(record.response_status, record.response_body, replayed=True)
    now = timezone.now()
    if record.locked_at > now - IN_FLIGHT_LEASE:
        raise IdempotencyKeyInFlight()
    record.locked_at = now  # abandoned by a request that died: this one serves it
    record.save(update_fields=["locked_at"])
    return None


@transaction.atomic(durable=True)
def _complete(*, user: User, key: str, status: int, body: Any) -> None:
    IdempotencyRecord.objects.filter(user=user, key=key).update(
        state=IdempotencyRecord.State.COMPLETED, response_status=status, response_body=body
    )


@transaction.atomic(durable=True)
def _release(*, user: User, key: str) -> None:
    IdempotencyRecord.objects.filter(user=user, key=key, state=IdempotencyRecord.State.IN_FLIGHT).delete()


def idempotency_records_purge(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Forget keys older than ``RECORD_RETENTION``; returns how many (would) go."""
    old = IdempotencyRecord.objects.filter(created_at__lt=(now or timezone.now()) - RECORD_RETENTION)
    if dry_run:
        return old.count()
    with transaction.atomic(durable=True):
        deleted, _ = old.delete()
    return deleted
