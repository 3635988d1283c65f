"""With the mail server out of reach, a page or an app that sends an email answers 503 with Retry-After.

The email circuit breaker (``ebookvoice.breakers``) opens against a server that accepts connections and
never answers; then ``ebookvoice.refusals.DomainErrorMiddleware`` answers the refusal: a page for people,
the API's envelope for apps, never a 500.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from accounts.tests.conftest import AppClient
from tests.silent_server import SilentServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_mail_server(settings: Any):
    with SilentServer() as server:
        settings.EMAIL_BACKEND = "ebookvoice.mail.GuardedEmailBackend"
        settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 0.3
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        yield server


def ask_for_links(count: int) -> list[Any]:
    return [Client().post("/accounts/magic-link/", {"email": f"reader{n}@example.com"}) for n in range(count)]


def test_a_sign_in_link_asked_for_while_the_mail_server_hangs_is_a_503_page_not_a_500(
    reader, hung_mail_server
):
    started = time.monotonic()
    [first] = ask_for_links(1)
    assert time.monotonic() - started >= 0.3, "it waited for the mail server"
    assert first.status_code == 503
    assert first["Retry-After"] == "5"
    assert "The mail server is not answering right now" in first.content.decode()
    assert "no-store" in first["Cache-Control"]


def test_after_five_failures_the_web_and_the_app_get_503_at_once(reader, hung_mail_server):
    assert [response.status_code for response in ask_for_links(5)] == [503] * 5
    accepted = hung_mail_server.accepted

    started = time.monotonic()
    page = Client().post("/accounts/magic-link/", {"email": "reader@example.com"})
    assert time.monotonic() - started < 0.3, "the breaker answered at once"
    assert page.status_code == 503
    assert 25 <= int(page["Retry-After"]) <= 30

    app = AppClient()
    response = app.post("/auth/magic-link/request", {"email": "reader@example.com"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert 25 <= int(response["Retry-After"]) <= 30
    assert hung_mail_server.accepted == accepted, "no connection while it is open"
