"""What every app's errors share: refusals written for people, and failures another attempt may mend.

- ``DomainError`` is the base of every expected refusal (``BookError``,
  ``CreditsError``, ``PreviewError``…): a message to show as it is, an HTTP
  status and a machine-readable code. The API's exception handler and the web
  pages' refusal helper map any of them to a response without knowing the app.
- ``TRANSIENT_ERRORS`` are the infrastructure's hiccups: the database, the
  broker, the cache, storage or the mail server out of reach for a moment.
  Celery tasks retry these and nothing else (a bug is not retried as if it were
  a network error), and so does anything else that must tell the two apart.
"""

from __future__ import annotations

import re
import smtplib
from typing import ClassVar

import botocore.exceptions
import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError


class DomainError(Exception):
    """An expected refusal: nothing was done, and ``message`` says why, for the person who asked."""

    http_status: ClassVar[int] = 400
    # Stable and machine-readable; empty means the class's name in snake case.
    code: ClassVar[str] = ""
    retry_after_seconds: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def error_code(self) -> str:
        return self.code or re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()


class ServiceUnavailable(DomainError):
    """A service (storage, the mail server) is not answering: it just failed, or its circuit breaker is open.

    Raised by ``ebookvoice.breakers``. A 503 with ``Retry-After`` (while the
    breaker is open, the rest of its period) for people and apps, and one of
    ``TRANSIENT_ERRORS`` for tasks, which try again later.
    """

    http_status = 503
    code = "service_unavailable"

    def __init__(self, *, service: str, retry_after_seconds: int) -> None:
        super().__init__(
            f"{service} is not answering right now. Please try again in {retry_after_seconds} seconds."
        )
        self.retry_after_seconds = retry_after_seconds


class TransientError(Exception):
    """A failure of our own code's step that says another attempt may help (a timeout, a tool missing).

    Raised from an app's error that carries ``retryable=True`` (``AudioError``,
    ``EngineError``), so a task retries it like any other transient error.
    """


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    # The database: connection lost, server restarting, a lock timeout.
    OperationalError,
    InterfaceError,
    # The broker and the cache.
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # Object storage (S3, R2): the endpoint unreachable, or the connection cut.
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    # Sockets everywhere: resets, refusals, timeouts (the mail server included).
    ConnectionError,
    TimeoutError,
    smtplib.SMTPServerDisconnected,
    TransientError,
    # A circuit breaker open on storage or email: the service was failing a moment ago.
    ServiceUnavailable,
)
