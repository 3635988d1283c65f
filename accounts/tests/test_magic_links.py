"""Magic links: any browser or app, once, for at most 15 minutes, stored only as a hash."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.magic_links import LinkState, MagicLinkRejected, magic_link_consume, magic_link_create
from accounts.models import MagicLink
from accounts.tests.conftest import AppClient, last_mail_to, link_in, make_person

pytestmark = pytest.mark.django_db

PREFIX = "/accounts/magic-link/"


def request_link(email: str) -> str:
    """Ask for a link in one browser; return the path the email points to."""
    response = Client().post(PREFIX, {"email": email})
    assert response.status_code == 302
    return link_in(last_mail_to(email), PREFIX)


def signed_in_email(client) -> str | None:
    user = client.get("/").wsgi_request.user
    return user.email if user.is_authenticated else None


def test_a_link_asked_for_in_one_browser_signs_in_another(reader):
    path = request_link("reader@example.com")
    other_browser = Client()

    page = other_browser.get(path)
    assert page.status_code == 200
    assert signed_in_email(other_browser) is None  # opening the page spends nothing

    response = other_browser.post(path)
    assert response.status_code == 302
    assert signed_in_email(other_browser) == "reader@example.com"


def test_a_link_works_only_once_and_then_says_so(reader):
    path = request_link("reader@example.com")
    Client().post(path)

    again = Client()
    for response in (again.get(path), again.post(path)):
        assert response.status_code == 410
        assert b"already been used" in response.content
    assert signed_in_email(again) is None


def test_a_link_expires_after_fifteen_minutes_and_then_says_so(reader):
    path = request_link("reader@example.com")
    sixteen_minutes_ago = timezone.now() - timedelta(minutes=16)
    MagicLink.objects.update(
        created_at=sixteen_minutes_ago, expires_at=sixteen_minutes_ago + timedelta(minutes=15)
    )

    browser = Client()
    response = browser.post(path)
    assert response.status_code == 410
    assert b"has expired" in response.content
    assert signed_in_email(browser) is None


def test_a_made_up_link_is_not_valid(db):
    response = Client().get(PREFIX + "made-up-token/")
    assert response.status_code == 404
    assert b"not valid" in response.content


def test_links_last_at_most_fifteen_minutes_even_if_configured_longer(reader, settings):
    settings.ACCOUNTS_MAGIC_LINK_MAX_AGE_SECONDS = 3600
    magic_link_create(user=reader, email=reader.email)
    link = MagicLink.objects.get()
    assert link.expires_at - link.created_at == timedelta(minutes=15)


def test_only_a_hash_of_the_token_is_stored(reader):
    token = magic_link_create(user=reader, email=reader.email)
    link = MagicLink.objects.get()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = MagicLink.objects.values_list(*[f.attname for f in MagicLink._meta.concrete_fields]).get()
    assert token not in [str(value) for value in stored]


@pytest.mark.django_db(transaction=True)
def test_two_browsers_spending_one_link_at_once_sign_in_only_one():
    reader = make_person("racer@example.com")
    token = magic_link_create(user=reader, email=reader.email)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def spend() -> None:
        try:
            barrier.wait(timeout=10)
            magic_link_consume(token=token)
            outcomes.append("signed in")
        except MagicLinkRejected as rejection:
            outcomes.append(str(rejection.state))
        finally:
            connection.close()

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["signed in", LinkState.USED, LinkState.USED, LinkState.USED]


def test_an_app_exchanges_the_link_token_for_a_session_token(reader):
    app = AppClient()
    assert app.post("/auth/magic-link/request", {"email": "reader@example.com"}).json() == {"status": 200}
    token = link_in(last_mail_to("reader@example.com"), PREFIX).removeprefix(PREFIX).rstrip("/")

    response = AppClient().post("/auth/magic-link/login", {"token": token})

    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["is_authenticated"] is True
    assert body["data"]["user"]["email"] == "reader@example.com"
    assert body["data"]["methods"][0]["method"] == "magic_link"
    me = AppClient()
    me.session_token = body["meta"]["session_token"]
    assert me.get("/api/v1/me").json()["email"] == "reader@example.com"


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (lambda: MagicLink.objects.update(used_at=timezone.now()), "magic_link_used"),
        (lambda: MagicLink.objects.update(expires_at=timezone.now()), "magic_link_expired"),
    ],
)
def test_an_app_is_told_when_a_link_is_spent_or_expired(reader, spoil, code):
    token = magic_link_create(user=reader, email=reader.email)
    spoil()
    response = AppClient().post("/auth/magic-link/login", {"token": token})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    assert "session_token" not in response.json().get("meta", {})


def test_opening_a_link_verifies_the_address_it_was_sent_to():
    from allauth.account.models import EmailAddress

    person = make_person("fresh@example.com", verified=False)
    token = magic_link_create(user=person, email=person.email)
    browser = Client()
    browser.post(f"{PREFIX}{token}/")
    assert EmailAddress.objects.get(email="fresh@example.com").verified
    assert signed_in_email(browser) == "fresh@example.com"


def test_an_inactive_account_is_not_signed_in_by_a_link():
    person = make_person("gone@example.com", is_active=False)
    token = magic_link_create(user=person, email=person.email)
    browser = Client()
    browser.post(f"{PREFIX}{token}/")
    assert signed_in_email(browser) is None
