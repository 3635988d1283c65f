"""TOTP two-factor authentication with recovery codes, web and app; secrets encrypted at rest."""

from __future__ import annotations

from typing import Any

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


# --- The activation code is spent; wrong codes lock with 429 -------------------------------------


def test_the_code_that_turned_on_totp_on_the_web_cannot_sign_in(reader, django_capture_on_commit_callbacks):
    browser = Client()
    browser.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    browser.post("/accounts/reauthenticate/", {"password": PASSWORD})
    secret = browser.get("/accounts/2fa/totp/activate/").context["form"].secret
    code = totp_code(secret)
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post("/accounts/2fa/totp/activate/", {"code": code}).status_code == 302

    other = Client()
    other.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    response = other.post("/accounts/2fa/authenticate/", {"code": code})  # the same 30 s period
    assert signed_in_email(other) is None
    assert "Incorrect code" in response.content.decode()


def test_the_code_that_turned_on_totp_in_the_app_cannot_sign_in(reader, django_capture_on_commit_callbacks):
    app = AppClient()
    app.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    app.post("/auth/reauthenticate", {"password": PASSWORD})
    secret = app.get("/account/authenticators/totp").json()["meta"]["secret"]
    code = totp_code(secret)
    with django_capture_on_commit_callbacks(execute=True):
        assert app.post("/account/authenticators/totp", {"code": code}).status_code == 200

    phone = AppClient()
    assert phone.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD}).status_code == 401
    response = phone.post("/auth/2fa/authenticate", {"code": code})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "incorrect_code"
    assert phone.get("/api/v1/me").status_code == 401


def locked_out_of_the_second_step(client_post) -> Any:
    """Wrong codes until allauth's "login_failed" limit for the user refuses; returns that answer."""
    for _ in range(10):
        response = client_post("000000")
        if response.status_code not in {200, 400}:
            return response
    raise AssertionError("never locked")


def test_wrong_codes_on_the_web_lock_the_second_step_with_a_429_and_retry_after(reader):
    activate_totp_on_the_web("reader@example.com")
    browser = Client()
    browser.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    response = locked_out_of_the_second_step(
        lambda code: browser.post("/accounts/2fa/authenticate/", {"code": code})
    )
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert signed_in_email(browser) is None


def test_wrong_codes_in_the_app_lock_the_second_step_with_a_429_not_a_400(reader):
    activate_totp_on_the_web("reader@example.com")
    phone = AppClient()
    phone.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    response = locked_out_of_the_second_step(
        lambda code: phone.post("/auth/2fa/authenticate", {"code": code})
    )
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert response.json()["errors"][0]["code"] == "too_many_login_attempts"
