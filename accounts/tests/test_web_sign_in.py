"""Email and password, verification, login by code, password reset and sign-out, in a browser."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import User
from accounts.tests.conftest import PASSWORD, code_in, last_mail_to, link_in

pytestmark = pytest.mark.django_db


def signed_in_email(client) -> str | None:
    user = client.get("/").wsgi_request.user
    return user.email if user.is_authenticated else None


def test_a_newcomer_signs_up_verifies_the_emailed_code_and_is_signed_in(client):
    response = client.post("/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD})
    assert response.status_code == 302
    assert signed_in_email(client) is None

    response = client.post("/accounts/confirm-email/", {"code": code_in(last_mail_to("new@example.com"))})

    assert response.status_code == 302
    assert signed_in_email(client) == "new@example.com"
    assert EmailAddress.objects.get(email="new@example.com").verified


def test_a_wrong_verification_code_signs_nobody_in(client):
    client.post("/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD})
    response = client.post("/accounts/confirm-email/", {"code": "BCDF-GHJK"})
    assert response.status_code == 200
    assert signed_in_email(client) is None
    assert not EmailAddress.objects.get(email="new@example.com").verified


def test_a_reader_signs_in_with_email_and_password_and_signs_out(client, reader):
    response = client.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert signed_in_email(client) == "reader@example.com"

    client.post("/accounts/logout/")
    assert signed_in_email(client) is None


def test_a_wrong_password_is_refused_with_a_message(client, reader):
    response = client.post("/accounts/login/", {"login": "reader@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert signed_in_email(client) is None


def test_an_unverified_address_must_be_verified_before_the_password_signs_in(client):
    from accounts.tests.conftest import make_person

    make_person("unverified@example.com", verified=False)
    response = client.post("/accounts/login/", {"login": "unverified@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert signed_in_email(client) is None
    code = code_in(last_mail_to("unverified@example.com"))
    client.post("/accounts/confirm-email/", {"code": code})
    assert signed_in_email(client) == "unverified@example.com"


def test_a_reader_signs_in_with_an_emailed_code(client, reader):
    client.post("/accounts/login/code/", {"email": "reader@example.com"})
    code = code_in(last_mail_to("reader@example.com"))
    response = client.post("/accounts/login/code/confirm/", {"code": code})
    assert response.status_code == 302
    assert signed_in_email(client) == "reader@example.com"


def test_a_reader_resets_a_forgotten_password_from_the_emailed_link(client, reader):
    client.post("/accounts/password/reset/", {"email": "reader@example.com"})
    path = link_in(last_mail_to("reader@example.com"), "/accounts/password/reset/key/")

    form_page = client.get(path, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else path,
        {"password1": "another fine passphrase 7", "password2": "another fine passphrase 7"},
    )

    assert response.status_code == 302
    assert User.objects.get(email="reader@example.com").check_password("another fine passphrase 7")


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/accounts/password/reset/", {"email": "{email}"}),
        ("/accounts/login/code/", {"email": "{email}"}),
        ("/accounts/magic-link/", {"email": "{email}"}),
        ("/accounts/signup/", {"email": "{email}", "password1": PASSWORD}),
    ],
)
def test_known_and_unknown_addresses_get_the_same_answer(client, reader, path, data):
    def answer(email: str) -> tuple[int, str, str]:
        from django.test import Client

        browser = Client()
        response = browser.post(path, {key: value.format(email=email) for key, value in data.items()})
        follow = browser.get(response["Location"]) if response.status_code == 302 else response
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", follow.content.decode())
        body = body.replace(email, "EMAIL")
        return response.status_code, response.get("Location", ""), body

    assert answer("reader@example.com") == answer("nobody@example.com")
    # Each address got one email either way, so the inbox tells its owner, and only them.
    assert {tuple(message.to) for message in mail.outbox} == {
        ("reader@example.com",),
        ("nobody@example.com",),
    }
