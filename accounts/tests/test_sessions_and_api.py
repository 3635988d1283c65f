"""The sessions list (device, IP, revoke) and DRF authentication by app session token only."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from allauth.usersessions.models import UserSession
from django.test import Client

from accounts.tests.conftest import PASSWORD, AppClient

pytestmark = pytest.mark.django_db

LAPTOP: dict[str, Any] = {"REMOTE_ADDR": "203.0.113.5", "headers": {"User-Agent": "Firefox on a laptop"}}
PHONE: dict[str, Any] = {"REMOTE_ADDR": "198.51.100.23", "headers": {"User-Agent": "eBookVoice-iOS/1.0"}}


def browser_signed_in(email: str = "reader@example.com", **client_kwargs) -> Client:
    browser = Client(**client_kwargs)
    browser.post("/accounts/login/", {"login": email, "password": PASSWORD})
    return browser


def app_signed_in(email: str = "reader@example.com", **client_kwargs) -> AppClient:
    app = AppClient(**client_kwargs)
    app.post("/auth/login", {"email": email, "password": PASSWORD})
    return app


def test_the_sessions_page_lists_each_device_with_its_ip(reader):
    laptop = browser_signed_in(**LAPTOP)
    app_signed_in(**PHONE)

    page = laptop.get("/accounts/sessions/").content.decode()

    assert "Firefox on a laptop" in page
    assert "203.0.113.5" in page
    assert "eBookVoice-iOS/1.0" in page
    assert "198.51.100.23" in page


def test_a_reader_signs_out_their_phone_from_the_browser(reader):
    laptop = browser_signed_in(**LAPTOP)
    phone = app_signed_in(**PHONE)
    phone_session = UserSession.objects.get(user_agent="eBookVoice-iOS/1.0")

    response = laptop.post(f"/accounts/sessions/{phone_session.pk}/end/")

    assert response.status_code == 302
    assert phone.get("/api/v1/me").status_code == 401
    assert laptop.get("/accounts/sessions/").status_code == 200


def test_nobody_can_end_someone_elses_session(reader, stranger):
    app_signed_in(**PHONE)
    readers_session = UserSession.objects.get(user=reader)
    intruder = browser_signed_in("stranger@example.com")
    assert intruder.post(f"/accounts/sessions/{readers_session.pk}/end/").status_code == 404
    assert UserSession.objects.filter(pk=readers_session.pk).exists()


def test_an_app_lists_sessions_and_revokes_a_browser(reader):
    laptop = browser_signed_in(**LAPTOP)
    phone = app_signed_in(**PHONE)

    listed = phone.get("/auth/sessions").json()["data"]
    assert {(s["ip"], s["user_agent"], s["is_current"]) for s in listed} == {
        ("203.0.113.5", "Firefox on a laptop", False),
        ("198.51.100.23", "eBookVoice-iOS/1.0", True),
    }
    laptop_id = next(s["id"] for s in listed if not s["is_current"])

    assert phone.delete("/auth/sessions", {"sessions": [laptop_id]}).status_code == 200
    assert not laptop.get("/").wsgi_request.user.is_authenticated


def test_the_api_knows_the_person_behind_a_session_token_and_shows_their_public_id(reader):
    phone = app_signed_in()
    response = phone.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(reader.uuid),
        "email": "reader@example.com",
        "email_verified": True,
        "first_name": "",
        "last_name": "",
        "date_joined": response.json()["date_joined"],
        "mfa_enabled": False,
        "notify_by_email": True,
    }


def test_the_api_refuses_a_request_without_a_token_with_401(db):
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "X-Session-Token"


def test_the_api_refuses_an_unknown_token(db):
    response = Client().get("/api/v1/me", headers={"X-Session-Token": "not-a-session"})
    assert response.status_code == 401


def test_the_api_refuses_basic_auth_even_with_the_right_password(reader):
    credentials = base64.b64encode(f"reader@example.com:{PASSWORD}".encode()).decode()
    response = Client().get("/api/v1/me", headers={"Authorization": f"Basic {credentials}"})
    assert response.status_code == 401


def test_the_api_refuses_a_browser_session_cookie(reader):
    browser = browser_signed_in()
    assert browser.get("/").wsgi_request.user.is_authenticated
    assert browser.get("/api/v1/me").status_code == 401


def test_a_token_stops_working_when_the_app_signs_out(reader):
    phone = app_signed_in()
    token = phone.session_token
    assert token
    phone.delete("/auth/session")
    assert Client().get("/api/v1/me", headers={"X-Session-Token": token}).status_code == 401
