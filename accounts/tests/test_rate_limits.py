"""Abuse limits: failed logins per account, per-IP budgets, the real client IP, and the admin login."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.ratelimits import rate_window_seconds
from accounts.tests.conftest import PASSWORD, AppClient

pytestmark = pytest.mark.django_db


def fail_five_times(email: str) -> None:
    browser = Client()
    for _ in range(5):
        response = browser.post("/accounts/login/", {"login": email, "password": "wrong"})
        assert response.status_code == 200


def test_the_sixth_failed_login_within_fifteen_minutes_is_refused_with_a_clear_429(reader):
    fail_five_times("reader@example.com")

    response = Client().post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})

    assert response.status_code == 429
    assert response["Retry-After"] == "900"  # the 15-minute window of "5/15m/key"
    assert b"Too many failed sign-in attempts for this account" in response.content
    assert not response.wsgi_request.user.is_authenticated


def test_an_app_gets_the_same_lockout_as_json(reader):
    fail_five_times("reader@example.com")
    response = AppClient().post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    error = response.json()["errors"][0]
    assert error["code"] == "too_many_login_attempts"
    assert "Wait 15 minutes" in error["message"]


def test_the_lockout_looks_the_same_for_an_address_with_no_account(reader):
    fail_five_times("reader@example.com")
    fail_five_times("nobody@example.com")
    known = Client().post("/accounts/login/", {"login": "reader@example.com", "password": "x"})
    unknown = Client().post("/accounts/login/", {"login": "nobody@example.com", "password": "x"})
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)


def test_a_successful_login_does_not_count_as_a_failure(reader):
    browser = Client()
    for _ in range(6):
        assert (
            browser.post(
                "/accounts/login/", {"login": "reader@example.com", "password": PASSWORD}
            ).status_code
            == 302
        )
        browser.post("/accounts/logout/")


def test_asking_for_too_many_magic_links_for_one_address_gets_a_429(reader):
    app = AppClient()
    for _ in range(3):
        assert app.post("/auth/magic-link/request", {"email": "reader@example.com"}).status_code == 200
    response = app.post("/auth/magic-link/request", {"email": "reader@example.com"})
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "Too many sign-in links" in response.json()["errors"][0]["message"]


def test_every_sign_in_endpoint_shares_one_per_ip_budget(settings):
    settings.ACCOUNTS_AUTH_RATE_PER_IP = "3/m"
    browser = Client(REMOTE_ADDR="203.0.113.9")
    for path in ("/accounts/login/", "/accounts/login/code/", "/accounts/magic-link/"):
        assert browser.get(path).status_code == 200
    response = browser.get("/accounts/signup/")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert b"Too many requests from your network" in response.content
    assert Client(REMOTE_ADDR="203.0.113.10").get("/accounts/signup/").status_code == 200
    assert browser.get("/").status_code == 200  # the rest of the site is not part of this budget

    app = AppClient(REMOTE_ADDR="203.0.113.9")
    response = app.get("/auth/session")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert response.json()["errors"][0]["code"] == "rate_limited"


def test_behind_cloudflare_limits_apply_to_the_connecting_ip_header(settings):
    settings.ACCOUNTS_AUTH_RATE_PER_IP = "2/m"
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "CF-Connecting-IP"
    cloudflare = "198.51.100.1"  # every request arrives from Cloudflare's edge
    for reader_ip in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        browser = Client(REMOTE_ADDR=cloudflare, headers={"CF-Connecting-IP": reader_ip})
        assert browser.get("/accounts/login/").status_code == 200
        assert browser.get("/accounts/login/").status_code == 200
        assert browser.get("/accounts/login/").status_code == 429


def test_without_the_setting_a_forged_connecting_ip_header_is_ignored(settings):
    settings.ACCOUNTS_AUTH_RATE_PER_IP = "2/m"
    for forged in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        Client(REMOTE_ADDR="192.0.2.7", headers={"CF-Connecting-IP": forged}).get("/accounts/login/")
    assert Client(REMOTE_ADDR="192.0.2.7").get("/accounts/login/").status_code == 429


def test_the_admin_login_sends_people_to_allauths_sign_in(client, staff):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

    client.post("/admin/login/", {"username": "staff@example.com", "password": PASSWORD})
    assert client.get("/admin/").status_code == 302  # posting to the admin form signs nobody in

    client.post("/accounts/login/", {"login": "staff@example.com", "password": PASSWORD})
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_is_locked_by_failed_logins_like_any_other(client, staff):
    fail_five_times("staff@example.com")
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": "staff@example.com", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_a_signed_in_reader_who_is_not_staff_cannot_open_the_admin(client, reader):
    client.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    assert client.get("/admin/login/").status_code == 403


def test_allauths_own_429s_carry_retry_after_too(reader):
    """allauth's headless per-action limits (here: password reset requests) answer without one themselves."""
    app = AppClient()
    statuses = []
    for _ in range(25):
        response = app.post("/auth/password/request", {"email": "reader@example.com"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response["Retry-After"].isdigit()
            break
    assert 429 in statuses, statuses


@pytest.mark.parametrize(
    ("rates", "seconds"), [("10/m/ip,5/15m/key", 900), ("60/m", 60), ("20/m/ip,1/10s/key", 60), ("5/h", 3600)]
)
def test_retry_after_is_the_longest_window_of_the_limit(rates, seconds):
    assert rate_window_seconds(rates) == seconds
