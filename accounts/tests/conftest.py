"""Personas and clients for the accounts tests.

Every test gets its own cache key prefix, so rate-limit counters (kept in the
real Redis) start from zero in each test and never touch another run's keys.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core import mail
from django.test import Client

from accounts.models import User

PASSWORD = "a long and unusual passphrase 42"
APP = "/_allauth/app/v1"


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings: Any) -> None:
    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"{caches['default']['KEY_PREFIX']}-{uuid.uuid4().hex[:8]}"
    settings.CACHES = caches


def make_person(email: str, *, verified: bool = True, password: str = PASSWORD, **fields: Any) -> User:
    user = User.objects.create_user(email, password, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


@pytest.fixture
def reader(db: None) -> User:
    """A person with a verified address and a password."""
    return make_person("reader@example.com")


@pytest.fixture
def stranger(db: None) -> User:
    return make_person("stranger@example.com")


@pytest.fixture
def staff(db: None) -> User:
    return make_person("staff@example.com", is_staff=True, is_superuser=True)


def last_mail_to(address: str) -> mail.EmailMessage:
    found = [message for message in mail.outbox if address in message.to]
    assert found, f"no mail to {address}"
    return found[-1]


def code_in(message: mail.EmailMessage) -> str:
    """The sign-in or verification code in an email: a line such as ``BCDF-GHJK``."""
    match = re.search(r"^\s*([A-Z0-9]{3,5}(?:-[A-Z0-9]{3,5})+)\s*$", str(message.body), re.MULTILINE)
    assert match, message.body
    return match.group(1)


def link_in(message: mail.EmailMessage, path_prefix: str) -> str:
    match = re.search(rf"https?://[^/\s]+({re.escape(path_prefix)}\S+)", str(message.body))
    assert match, message.body
    return match.group(1)


@pytest.fixture
def totp_clock() -> Iterator[None]:
    """The clock starts a test at the beginning of a TOTP period, and runs on from there.

    A code made in the last seconds of its 30-second period would be checked
    in the next one and refused; starting each test at a period's start means
    none is, without waiting for the next period.
    """
    period = app_settings.TOTP_PERIOD
    with time_machine.travel((time.time() // period + 1) * period + 0.5, tick=True):
        yield


def totp_code(secret: str) -> str:
    """The current TOTP code (``totp_clock`` keeps it from expiring before it is checked)."""
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


class AppClient:
    """A phone app talking to allauth's headless API: JSON in, JSON out, X-Session-Token."""

    def __init__(self, **defaults: Any) -> None:
        self.http = Client(**defaults)
        self.session_token: str | None = None

    def _headers(self) -> dict[str, str]:
        return {"X-Session-Token": self.session_token} if self.session_token else {}

    def _keep_token(self, response: Any) -> Any:
        if response.headers.get("Content-Type", "").startswith("application/json"):
            token = response.json().get("meta", {}).get("session_token")
            if token:
                self.session_token = token
        return response

    def request(self, method: str, path: str, data: Any = None, **extra: Any) -> Any:
        url = path if path.startswith("/api/") else APP + path
        call = getattr(self.http, method.lower())
        kwargs: dict[str, Any] = {"headers": {**self._headers(), **extra.pop("headers", {})}, **extra}
        if data is not None:
            kwargs.update(data=json.dumps(data), content_type="application/json")
        return self._keep_token(call(url, **kwargs))

    def get(self, path: str, **extra: Any) -> Any:
        return self.request("GET", path, **extra)

    def post(self, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.request("POST", path, data if data is not None else {}, **extra)

    def delete(self, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.request("DELETE", path, data, **extra)

    def patch(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.request("PATCH", path, data, **extra)


@pytest.fixture
def app() -> AppClient:
    return AppClient()
