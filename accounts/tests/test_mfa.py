"""TOTP two-factor authentication with recovery codes, web and app; secrets encrypted at rest."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.test import Client

from accounts import crypto
from accounts.magic_links import magic_link_create
from accounts.tests.conftest import PASSWORD, AppClient, totp_code

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("totp_clock")]


def signed_in_email(client) -> str | None:
    user = client.get("/").wsgi_request.user
    return user.email if user.is_authenticated else None


def activate_totp_on_the_web(email: str) -> str:
    browser = Client()
    browser.post("/accounts/login/", {"login": email, "password": PASSWORD})
    browser.post("/accounts/reauthenticate/", {"password": PASSWORD})  # sensitive: asks again
    secret = browser.get("/accounts/2fa/totp/activate/").context["form"].secret
    response = browser.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    return secret


def recovery_codes_of(user) -> list[str]:
    return RecoveryCodes(Authenticator.objects.get(user=user, type="recovery_codes")).get_unused_codes()


def test_a_reader_turns_on_totp_and_then_needs_a_code_to_sign_in(reader):
    secret = activate_totp_on_the_web("reader@example.com")
    assert Authenticator.objects.filter(user=reader, type="totp").exists()

    browser = Client()
    response = browser.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert signed_in_email(browser) is None

    browser.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert signed_in_email(browser) == "reader@example.com"


def test_a_wrong_totp_code_signs_nobody_in(reader):
    activate_totp_on_the_web("reader@example.com")
    browser = Client()
    browser.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    response = browser.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert response.status_code == 200
    assert signed_in_email(browser) is None


def test_a_recovery_code_signs_in_once(reader):
    activate_totp_on_the_web("reader@example.com")
    code = recovery_codes_of(reader)[0]

    first = Client()
    first.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    first.post("/accounts/2fa/authenticate/", {"code": code})
    assert signed_in_email(first) == "reader@example.com"

    second = Client()
    second.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    second.post("/accounts/2fa/authenticate/", {"code": code})
    assert signed_in_email(second) is None


def test_a_magic_link_does_not_skip_two_factor(reader):
    activate_totp_on_the_web("reader@example.com")
    token = magic_link_create(user=reader, email=reader.email)
    browser = Client()
    response = browser.post(f"/accounts/magic-link/{token}/")
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert signed_in_email(browser) is None


def test_totp_secrets_and_recovery_seeds_are_stored_encrypted(reader):
    secret = activate_totp_on_the_web("reader@example.com")
    totp = Authenticator.objects.get(user=reader, type="totp")
    seed = Authenticator.objects.get(user=reader, type="recovery_codes").data["seed"]
    assert totp.data["secret"] != secret
    assert crypto.decrypt(totp.data["secret"]) == secret
    assert crypto.is_encrypted(seed)


def test_an_app_turns_on_totp_and_then_completes_the_pending_two_factor_step(reader):
    app = AppClient()
    app.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    setup = app.get("/account/authenticators/totp")
    assert setup.status_code == 404  # no authenticator yet; meta carries the new secret
    secret = setup.json()["meta"]["secret"]
    refused = app.post("/account/authenticators/totp", {"code": totp_code(secret)})
    assert refused.status_code == 401  # turning it on asks for the password again
    app.post("/auth/reauthenticate", {"password": PASSWORD})
    assert app.post("/account/authenticators/totp", {"code": totp_code(secret)}).status_code == 200

    phone = AppClient()
    response = phone.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    assert response.status_code == 401
    pending = [flow for flow in response.json()["data"]["flows"] if flow.get("is_pending")]
    assert [flow["id"] for flow in pending] == ["mfa_authenticate"]
    assert phone.session_token  # the pending step belongs to this token

    response = phone.post("/auth/2fa/authenticate", {"code": totp_code(secret)})
    assert response.status_code == 200
    assert phone.get("/api/v1/me").json()["mfa_enabled"] is True


def test_an_app_signs_in_with_a_recovery_code_after_a_magic_link(reader):
    activate_totp_on_the_web("reader@example.com")
    token = magic_link_create(user=reader, email=reader.email)
    phone = AppClient()
    response = phone.post("/auth/magic-link/login", {"token": token})
    assert response.status_code == 401
    assert phone.get("/api/v1/me").status_code == 401

    response = phone.post("/auth/2fa/authenticate", {"code": recovery_codes_of(reader)[0]})
    assert response.status_code == 200
    assert phone.get("/api/v1/me").status_code == 200
