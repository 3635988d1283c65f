"""Circuit breakers around the services a request waits on: object storage and the mail server.

When S3 (R2) or the SMTP server stops answering, every request that touches
it would otherwise wait for its timeouts, and a page of uploads or a queue of
emails would hold every web thread and worker for minutes. A breaker counts
consecutive infrastructure failures (a refused connection, a timeout, a 5xx);
after ``CIRCUIT_BREAKER_FAIL_MAX`` (5) it opens, and for
``CIRCUIT_BREAKER_RESET_SECONDS`` (30) every call fails at once with
``ServiceUnavailable``: a 503 with ``Retry-After`` on the web and in the API,
a retry for a Celery task. Then one trial call goes through (half-open): a
success closes the breaker, a failure opens it for another period. An answer
that is a refusal (a 404, a 403, a recipient refused) is the service working,
counts as a success, and reaches the caller as it is. A failed call is raised
as ``ServiceUnavailable`` too (from the original error), so an outage is a
503 from its first request, never a 500.

The state lives in the cache's Redis (pybreaker's key layout,
``<KEY_PREFIX>:breaker:<name>:pybreaker:state``), so every web process and
worker sees the same breaker: one process's five timeouts spare all the
others theirs. While Redis cannot be reached, each process keeps counting in
its own memory (``SharedStateStorage``), so the breaker still works, per
process. pybreaker's own ``CircuitRedisStorage`` is not used as it is: on a
Redis error it answers "closed, no failures", which would switch the breaker
off exactly when the cache and the storage go down together.

``CircuitBreaker.call`` holds a lock for the whole call, which would run one
storage request at a time per process (gunicorn runs threads); ``Breaker.call``
keeps the state changes and drops that lock.
"""

from __future__ import annotations

import calendar
import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import botocore.exceptions
import pybreaker
import redis
from django.conf import settings
from redis.exceptions import RedisError

from .errors import ServiceUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

# While Redis fails, the state is kept in memory; Redis is tried again after this.
REDIS_RETRY_SECONDS = 5.0
# Short: a hung Redis must not add seconds to every storage call.
REDIS_TIMEOUT_SECONDS = 0.5
# What a failed call (the breaker still closed) tells the client to wait.
FAILED_CALL_RETRY_SECONDS = 5


def _storage_failure(error: BaseException) -> bool:
    """S3 (R2) out of reach: no connection, a timeout, a cut connection, or a 5xx (SlowDown included)."""
    if isinstance(error, botocore.exceptions.ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500
    return isinstance(
        error,
        botocore.exceptions.ConnectionError
        | botocore.exceptions.HTTPClientError
        | ConnectionError
        | TimeoutError,
    )


def _email_failure(error: BaseException) -> bool:
    """The mail server out of reach: no connection, a timeout, a dropped line (not a refused address)."""
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, smtplib.SMTPException):
        return False  # it answered: a recipient or sender refused, bad data
    return isinstance(error, OSError)  # sockets: refused, reset, timed out, no such host


@dataclass(frozen=True)
class Service:
    name: str
    label: str  # for people: "Storage is not answering right now…"
    is_failure: Callable[[BaseException], bool]


SERVICES = {
    "storage": Service("storage", "File storage", _storage_failure),
    "email": Service("email", "The mail server", _email_failure),
}


class SharedStateStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker's state in Redis (``CircuitRedisStorage``'s keys); in memory while Redis is down."""

    def __init__(self, *, namespace: str, client: Any) -> None:
        super().__init__("redis")
        self._namespace = namespace
        self._client = client
        self._memory = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self._redis_down_until = 0.0

    def _key(self, name: str) -> str:
        return f"{self._namespace}:pybreaker:{name}"

    def _redis(self, operation: Callable[[Any], T]) -> tuple[bool, T | None]:
        """Run ``operation`` on Redis: (True, its answer), or (False, None) while Redis is down."""
        if time.monotonic() < self._redis_down_until:
            return False, None
        try:
            return True, operation(self._client)
        except RedisError as error:
            self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            logger.warning(
                "circuit breaker %s: Redis cannot be reached (%s); counting in this process's memory",
                self._namespace,
                type(error).__name__,
            )
            return False, None

    @property
    def using_redis(self) -> bool:
        return time.monotonic() >= self._redis_down_until

    @property
    def state(self) -> str:
        ok, value = self._redis(lambda client: client.get(self._key("state")))
        if not ok:
            return self._memory.state
        return value.decode() if isinstance(value, bytes) else pybreaker.STATE_CLOSED

    @state.setter
    def state(self, state: str) -> None:
        self._memory.state = state
        self._redis(lambda client: client.set(self._key("state"), state))

    def increment_counter(self) -> None:
        self._memory.increment_counter()
        self._redis(lambda client: client.incr(self._key("fail_counter")))

    def reset_counter(self) -> None:
        self._memory.reset_counter()
        self._redis(lambda client: client.set(self._key("fail_counter"), 0))

    def increment_success_counter(self) -> None:
        self._memory.increment_success_counter()
        self._redis(lambda client: client.incr(self._key("success_counter")))

    def reset_success_counter(self) -> None:
        self._memory.reset_success_counter()
        self._redis(lambda client: client.set(self._key("success_counter"), 0))

    @property
    def counter(self) -> int:
        ok, value = self._redis(lambda client: client.get(self._key("fail_counter")))
        return int(value or 0) if ok else self._memory.counter

    @property
    def success_counter(self) -> int:
        ok, value = self._redis(lambda client: client.get(self._key("success_counter")))
        return int(value or 0) if ok else self._memory.success_counter

    @property
    def opened_at(self) -> datetime | None:
        ok, value = self._redis(lambda client: client.get(self._key("opened_at")))
        if not ok:
            return self._memory.opened_at
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        self._memory.opened_at = now
        stamp = calendar.timegm(now.utctimetuple())
        self._redis(lambda client: client.set(self._key("opened_at"), stamp))


class Breaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker for one service, raising ``ServiceUnavailable`` while open."""

    def __init__(self, service: Service, *, storage: SharedStateStorage, fail_max: int, reset_seconds: float):
        super().__init__(
            fail_max=fail_max,
            reset_timeout=reset_seconds,
            # Only what says the service is out of reach counts; any other outcome is a success.
            exclude=[lambda error: not service.is_failure(error)],
            state_storage=storage,
            name=service.name,
            # The call that trips it raises its own error; the ones after it fail fast.
            throw_new_error_on_trip=False,
        )
        self.service = service
        self.storage = storage

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # No lock around the call (see the module's docstring): the state object does the bookkeeping.
        try:
            return self.state.call(func, *args, **kwargs)
        except pybreaker.CircuitBreakerError:
            raise self.unavailable() from None
        except Exception as error:
            if not self.service.is_failure(error):
                raise  # the service answered (a 404, a refused address): the caller's business
            # Out of reach: the same 503 as while open, so nobody sees a 500 for an outage.
            wait = self.retry_after_seconds() if self.is_open() else FAILED_CALL_RETRY_SECONDS
            raise ServiceUnavailable(service=self.service.label, retry_after_seconds=wait) from error

    def retry_after_seconds(self) -> int:
        opened_at = self.storage.opened_at
        if opened_at is None:
            return int(self.reset_timeout)
        left = opened_at.timestamp() + self.reset_timeout - time.time()
        return max(1, min(int(self.reset_timeout), int(left + 0.999)))

    def unavailable(self) -> ServiceUnavailable:
        return ServiceUnavailable(service=self.service.label, retry_after_seconds=self.retry_after_seconds())

    def is_open(self) -> bool:
        """Open and still inside its period (past it, the next call is the trial)."""
        if self.current_state != pybreaker.STATE_OPEN:
            return False
        opened_at = self.storage.opened_at
        return opened_at is None or time.time() < opened_at.timestamp() + self.reset_timeout


_breakers: dict[tuple[str, str, str, int, float], Breaker] = {}
_lock = threading.Lock()


def breaker(name: str) -> Breaker:
    """The breaker of ``name`` ("storage" or "email") under the current settings, made once per process."""
    cache = settings.CACHES["default"]
    location, prefix = str(cache["LOCATION"]), str(cache.get("KEY_PREFIX", ""))
    fail_max, reset_seconds = settings.CIRCUIT_BREAKER_FAIL_MAX, float(settings.CIRCUIT_BREAKER_RESET_SECONDS)
    key = (name, location, prefix, fail_max, reset_seconds)
    with _lock:
        found = _breakers.get(key)
        if found is None:
            client = redis.Redis.from_url(
                location, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
            )
            storage = SharedStateStorage(namespace=f"{prefix}:breaker:{name}", client=client)
            found = _breakers[key] = Breaker(
                SERVICES[name], storage=storage, fail_max=fail_max, reset_seconds=reset_seconds
            )
        return found


def guarded(name: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` through the breaker of ``name``; ``ServiceUnavailable`` while it is open."""
    return breaker(name).call(func, *args, **kwargs)


@dataclass(frozen=True)
class BreakerState:
    state: str  # closed, open or half-open
    retry_after_seconds: int | None  # while open
    shared: bool  # the state is Redis's (False: Redis is down, this process's own)


def breaker_states() -> dict[str, BreakerState]:
    """Every breaker's state, for ``/readyz``."""
    states = {}
    for name in SERVICES:
        found = breaker(name)
        is_open, current = found.is_open(), found.current_state
        if not is_open and current == pybreaker.STATE_OPEN:
            current = pybreaker.STATE_HALF_OPEN  # its period is over: the next call is the trial
        states[name] = BreakerState(
            state=current,
            retry_after_seconds=found.retry_after_seconds() if is_open else None,
            shared=found.storage.using_redis,
        )
    return states
