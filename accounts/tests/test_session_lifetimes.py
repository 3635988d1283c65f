"""How long a sign-in lasts: a browser's two weeks with "Remember me" (else until it closes), an app's
token until 30 days without use; and both ended from the sessions page."""

from __future__ import annotations

import time

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.tests.conftest import PASSWORD, AppClient

pytestmark = pytest.mark.django_db

DAY = 24 * 3600
TWO_WEEKS = 14 * DAY


def sign_in(browser: Client, **extra: str):
    response = browser.post(
        "/accounts/login/", {"login": "reader@example.com", "password": PASSWORD, **extra}
    )
    assert response.status_code == 302, response.content
    return response


def signed_in(client: Client) -> bool:
    return bool(client.get("/accounts/settings/").wsgi_request.user.is_authenticated)


def test_the_sign_in_page_asks_whether_to_remember_me(db):
    page = Client().get("/accounts/login/").content.decode()
    assert 'name="remember"' in page


def test_remember_me_keeps_a_browser_signed_in_for_two_weeks(reader):
    browser = Client()
    cookie = sign_in(browser, remember="on").cookies["sessionid"]
    assert int(cookie["max-age"]) == TWO_WEEKS
    assert browser.session.get_expiry_age() == TWO_WEEKS
    with time_machine.travel(time.time() + TWO_WEEKS - 3600):
        assert signed_in(browser)


def test_without_remember_me_the_session_ends_when_the_browser_closes(reader):
    browser = Client()
    cookie = sign_in(browser).cookies["sessionid"]
    assert cookie["max-age"] == "", "a cookie without an expiry: gone when the browser closes"
    assert cookie["expires"] == ""
    assert browser.session.get_expire_at_browser_close()


def test_a_remembered_browser_session_ends_after_two_weeks(reader):
    browser = Client()
    sign_in(browser, remember="on")
    with time_machine.travel(time.time() + TWO_WEEKS + 60):
        assert not signed_in(browser)


def app_signed_in() -> AppClient:
    app = AppClient()
    assert app.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD}).status_code == 200
    assert app.session_token
    return app


def expires_at(app: AppClient) -> float:
    return Session.objects.get(session_key=app.session_token).expire_date.timestamp()


def test_an_app_token_lasts_30_days_from_sign_in(reader):
    app = app_signed_in()
    assert abs(expires_at(app) - (time.time() + 30 * DAY)) < 60


def test_each_use_of_an_app_token_pushes_its_end_back_so_only_30_idle_days_end_it(reader):
    app = app_signed_in()
    start = time.time()
    for day in (25, 50, 75):  # used every 25 days: never 30 idle
        with time_machine.travel(start + day * DAY):
            assert app.get("/api/v1/me").status_code == 200, day
            assert abs(expires_at(app) - (start + (day + 30) * DAY)) < 60
    with time_machine.travel(start + (75 + 30) * DAY + 60):
        assert app.get("/api/v1/me").status_code == 401
        assert app.get("/auth/session").status_code in (401, 410)


def test_an_app_token_unused_for_30_days_has_ended(reader):
    app = app_signed_in()
    with time_machine.travel(time.time() + 30 * DAY + 60):
        assert app.get("/api/v1/me").status_code == 401


def test_a_busy_app_does_not_write_its_session_on_every_request(reader):
    app = app_signed_in()
    first = Session.objects.get(session_key=app.session_token).expire_date
    for _ in range(3):
        assert app.get("/api/v1/me").status_code == 200
    assert Session.objects.get(session_key=app.session_token).expire_date == first


def test_an_ended_app_token_is_not_brought_back_by_using_it(reader):
    app = app_signed_in()
    token = app.session_token
    Session.objects.filter(session_key=token).update(expire_date=timezone.now())
    assert app.get("/api/v1/me").status_code == 401
    assert not Session.objects.filter(session_key=token, expire_date__gt=timezone.now()).exists()


def test_both_a_browser_and_an_app_are_listed_and_ended_from_the_sessions_page(reader):
    laptop, phone = Client(), app_signed_in()
    sign_in(laptop, remember="on")
    other_browser = Client()
    sign_in(other_browser)
    page = laptop.get("/accounts/sessions/").content.decode()
    sessions = UserSession.objects.filter(user=reader)
    assert sessions.count() == 3
    for session in sessions:
        assert f"/accounts/sessions/{session.pk}/end/" in page
    phone_session = sessions.get(session_key=phone.session_token)
    browser_session = sessions.get(session_key=other_browser.session.session_key)
    assert laptop.post(f"/accounts/sessions/{phone_session.pk}/end/").status_code == 302
    assert laptop.post(f"/accounts/sessions/{browser_session.pk}/end/").status_code == 302
    assert phone.get("/api/v1/me").status_code == 401
    assert not signed_in(other_browser)
    assert signed_in(laptop)
