"""The same flows through allauth's headless API, as a phone app does them (X-Session-Token)."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import User
from accounts.tests.conftest import PASSWORD, AppClient, code_in, last_mail_to, link_in

pytestmark = pytest.mark.django_db


def test_an_app_signs_up_verifies_the_code_and_gets_a_session_token(app):
    response = app.post("/auth/signup", {"email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 401
    pending = [flow["id"] for flow in response.json()["data"]["flows"] if flow.get("is_pending")]
    assert pending == ["verify_email"]

    response = app.post("/auth/email/verify", {"key": code_in(last_mail_to("new@example.com"))})

    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["is_authenticated"] is True
    assert body["meta"]["session_token"] == app.session_token
    assert body["data"]["user"]["email"] == "new@example.com"
    assert body["data"]["user"]["id"] == str(User.objects.get(email="new@example.com").uuid)
    assert EmailAddress.objects.get(email="new@example.com").verified


def test_an_app_signs_in_with_a_password_and_signs_out(app, reader):
    response = app.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert app.session_token
    assert app.get("/auth/session").status_code == 200

    assert app.delete("/auth/session").status_code == 401
    assert app.get("/auth/session").status_code == 410  # the token is gone for good


def test_an_app_is_refused_a_wrong_password(app, reader):
    response = app.post("/auth/login", {"email": "reader@example.com", "password": "wrong"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "email_password_mismatch"
    assert "session_token" not in response.json().get("meta", {})


def test_an_app_must_verify_an_unverified_address_before_signing_in(app):
    from accounts.tests.conftest import make_person

    make_person("unverified@example.com", verified=False)
    response = app.post("/auth/login", {"email": "unverified@example.com", "password": PASSWORD})
    assert response.status_code == 401
    assert response.json()["meta"]["is_authenticated"] is False

    response = app.post("/auth/email/verify", {"key": code_in(last_mail_to("unverified@example.com"))})
    assert response.status_code == 200


def test_an_app_signs_in_with_an_emailed_code(app, reader):
    response = app.post("/auth/code/request", {"email": "reader@example.com"})
    assert response.status_code == 401
    response = app.post("/auth/code/confirm", {"code": code_in(last_mail_to("reader@example.com"))})
    assert response.status_code == 200
    assert response.json()["meta"]["session_token"]


def test_an_app_resets_a_password_with_the_key_from_the_emailed_link(app, reader):
    assert app.post("/auth/password/request", {"email": "reader@example.com"}).status_code == 200
    path = link_in(last_mail_to("reader@example.com"), "/accounts/password/reset/key/")
    key = path.removeprefix("/accounts/password/reset/key/").rstrip("/")

    response = app.post("/auth/password/reset", {"key": key, "password": "another fine passphrase 7"})

    assert response.status_code in (200, 401)
    assert User.objects.get(email="reader@example.com").check_password("another fine passphrase 7")


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/auth/password/request", {"email": "{email}"}),
        ("/auth/code/request", {"email": "{email}"}),
        ("/auth/magic-link/request", {"email": "{email}"}),
        ("/auth/signup", {"email": "{email}", "password": PASSWORD}),
    ],
)
def test_the_api_answers_the_same_for_known_and_unknown_addresses(reader, path, data):
    def answer(email: str) -> tuple[int, dict]:
        response = AppClient().post(path, {key: value.format(email=email) for key, value in data.items()})
        body = response.json()
        body.get("meta", {}).pop("session_token", None)
        return response.status_code, body

    assert answer("reader@example.com") == answer("nobody@example.com")
    assert {tuple(message.to) for message in mail.outbox} == {
        ("reader@example.com",),
        ("nobody@example.com",),
    }
