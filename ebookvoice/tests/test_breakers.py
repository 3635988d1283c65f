"""The circuit breakers (``ebookvoice.breakers``): open after 5 failures, fail fast for 30 s, one trial,
shared through Redis by every process, and still counting in memory while Redis is down."""

from __future__ import annotations

import smtplib
import time
import uuid
from typing import Any

import pytest
import redis
import time_machine
from django.core.mail import EmailMessage, get_connection

from ebookvoice import breakers
from ebookvoice.errors import TRANSIENT_ERRORS, ServiceUnavailable
from tests.silent_server import SilentServer


@pytest.fixture(autouse=True)
def own_breakers(settings: Any) -> None:
    """A fresh namespace in Redis for this test's breakers, so no other test sees them open."""
    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"breakers-{uuid.uuid4().hex[:8]}"
    settings.CACHES = caches


def refused() -> None:
    raise ConnectionRefusedError("nothing listens there")


def test_five_failures_open_the_breaker_and_then_calls_fail_at_once_with_a_retry_after():
    calls = []

    def failing() -> None:
        calls.append(1)
        refused()

    for _ in range(5):
        with pytest.raises(ServiceUnavailable) as failed:
            breakers.guarded("storage", failing)
        assert isinstance(failed.value.__cause__, ConnectionRefusedError)
    assert len(calls) == 5
    with pytest.raises(ServiceUnavailable) as raised:
        breakers.guarded("storage", failing)
    assert len(calls) == 5, "an open breaker does not call the service"
    assert raised.value.http_status == 503
    assert 29 <= (raised.value.retry_after_seconds or 0) <= 30
    assert "File storage is not answering right now" in raised.value.message
    assert ServiceUnavailable in TRANSIENT_ERRORS, "a task retries it later"


def test_a_success_between_failures_starts_the_count_again():
    for _ in range(4):
        with pytest.raises(ServiceUnavailable):
            breakers.guarded("storage", refused)
    assert breakers.guarded("storage", lambda: "ok") == "ok"
    for _ in range(4):
        with pytest.raises(ServiceUnavailable):
            breakers.guarded("storage", refused)
    assert breakers.breaker_states()["storage"].state == "closed"


def test_an_answer_that_refuses_is_the_service_working_and_reaches_the_caller_as_it_is():
    for _ in range(10):
        with pytest.raises(FileNotFoundError):
            breakers.guarded("storage", lambda: (_ for _ in ()).throw(FileNotFoundError("no such key")))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            breakers.guarded("email", lambda: (_ for _ in ()).throw(smtplib.SMTPRecipientsRefused({})))
    states = breakers.breaker_states()
    assert (states["storage"].state, states["email"].state) == ("closed", "closed")


def test_after_30_seconds_one_trial_call_goes_through_and_a_success_closes_it():
    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            breakers.guarded("storage", refused)
    assert breakers.breaker_states()["storage"].state == "open"
    with time_machine.travel(time.time() + 31):
        assert breakers.breaker_states()["storage"].state == "half-open"
        assert breakers.guarded("storage", lambda: "back") == "back"
        assert breakers.breaker_states()["storage"].state == "closed"


def test_a_failed_trial_opens_it_for_another_30_seconds():
    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            breakers.guarded("storage", refused)
    later = time.time() + 31
    with time_machine.travel(later):
        with pytest.raises(ServiceUnavailable):
            breakers.guarded("storage", refused)
        with pytest.raises(ServiceUnavailable) as raised:
            breakers.guarded("storage", lambda: "never called")
        assert (raised.value.retry_after_seconds or 0) >= 29


def test_every_process_sees_the_same_breaker_through_redis(settings):
    mine = breakers.breaker("storage")
    # Another process: its own breaker object and Redis connection, the same settings.
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    theirs = breakers.Breaker(
        breakers.SERVICES["storage"],
        storage=breakers.SharedStateStorage(namespace=mine.storage._namespace, client=client),
        fail_max=5,
        reset_seconds=30,
    )
    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            theirs.call(refused)
    with pytest.raises(ServiceUnavailable):
        mine.call(lambda: "never called")
    assert breakers.breaker_states()["storage"].shared is True


def test_with_redis_down_the_breaker_counts_in_this_processs_memory(settings):
    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    caches["default"]["LOCATION"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CACHES = caches
    calls = []

    def failing() -> None:
        calls.append(1)
        refused()

    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            breakers.guarded("email", failing)
    with pytest.raises(ServiceUnavailable):
        breakers.guarded("email", failing)
    assert len(calls) == 5
    state = breakers.breaker_states()["email"]
    assert (state.state, state.shared) == ("open", False)


def test_an_smtp_server_that_never_answers_opens_the_email_breaker_and_then_sending_fails_at_once(settings):
    with SilentServer() as server:
        settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 0.3
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        message = EmailMessage("Hello", "Body", "noreply@localhost", ["ada@example.com"])
        for _ in range(5):
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as failed:
                get_connection("ebookvoice.mail.GuardedEmailBackend").send_messages([message])
            assert time.monotonic() - started >= 0.25, "each waited for the timeout"
            assert isinstance(failed.value.__cause__, TimeoutError | smtplib.SMTPServerDisconnected)
        accepted = server.accepted
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            get_connection("ebookvoice.mail.GuardedEmailBackend").send_messages([message])
        assert time.monotonic() - started < 0.1, "open: no connection, no wait"
        assert server.accepted == accepted
        assert (
            get_connection("ebookvoice.mail.GuardedEmailBackend", fail_silently=True).send_messages([message])
            == 0
        )
