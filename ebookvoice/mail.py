"""Email: every message through the email circuit breaker, and on a local install a file under ``var/mail/``.

``GuardedEmailBackend`` (``EMAIL_BACKEND``) hands each batch to the backend
that delivers (``EMAIL_DELIVERY_BACKEND``: SMTP from ``EMAIL_URL``, or the local
files) through ``ebookvoice.breakers``: after five consecutive failures to
reach the mail server, sending fails at once with ``ServiceUnavailable`` for
30 seconds instead of waiting ``EMAIL_TIMEOUT`` each time; a task retries it.

The embedded default (no ``EMAIL_URL``) delivers with ``LocalMailBackend``, so
a verification code or an "audiobook ready" link is one ``.eml`` file away,
readable in any mail program or text editor, instead of buried in a JSON log.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.text import slugify

from .breakers import guarded

SLUG_CHARS = 40


class GuardedEmailBackend(BaseEmailBackend):
    """Sends through ``EMAIL_DELIVERY_BACKEND``, guarded by the email circuit breaker."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        self.delivery = get_connection(settings.EMAIL_DELIVERY_BACKEND, fail_silently=False, **kwargs)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        try:
            return int(guarded("email", self._deliver, list(email_messages)))
        except Exception:
            if not self.fail_silently:
                raise
            return 0

    def _deliver(self, email_messages: list[EmailMessage]) -> int:
        # One connection a batch, opened and closed inside the breaker's call.
        with self.delivery as connection:
            return int(connection.send_messages(email_messages) or 0)


class LocalMailBackend(BaseEmailBackend):
    """Writes each email to ``EMAIL_FILE_PATH/<UTC time>-<subject>-<id>.eml`` and prints one line about it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = Path(settings.EMAIL_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            path = folder / file_name(str(message.subject))
            path.write_bytes(message.message().as_bytes())
            announce(f'mail to {", ".join(message.recipients())}: "{message.subject}" → {shown(path)}')
            sent += 1
        return sent


def file_name(subject: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = slugify(subject)[:SLUG_CHARS].strip("-") or "mail"
    return f"{stamp}-{slug}-{uuid.uuid4().hex[:6]}.eml"


def shown(path: Path) -> str:
    """The path as a person in the checkout would type it: relative when it is under the current folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def announce(line: str) -> None:
    # The process's real stdout: a Celery worker replaces sys.stdout with a logger,
    # which would turn this line back into a JSON log record.
    stream = sys.__stdout__ or sys.stdout
    stream.write(line + "\n")
    stream.flush()
