"""The account page: sign-in methods, the email switch, sessions with sign-out, connected accounts, data."""

from __future__ import annotations

import pytest
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.conftest import PASSWORD, AppClient

pytestmark = pytest.mark.django_db

URL = reverse("account_settings")


IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)


def browser(user: User, agent: str = "Firefox on a laptop") -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def google_set_up(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {
            **settings.SOCIALACCOUNT_PROVIDERS["google"],
            "APPS": [{"client_id": "id", "secret": "s", "key": ""}],
        }
    }


def test_the_account_page_shows_every_section_with_a_way_to_change_it(reader, google_set_up):
    page = browser(reader).get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'class="account-nav"' in text
    for section in ("Sign-in", "Notifications", "Credits", "Where you’re signed in", "Connected accounts",
                    "Your data"):  # fmt: skip
        assert section in text
    for name in ("account_email", "account_change_password", "mfa_index", "usersessions_list",
                 "socialaccount_connections", "account_data_export", "account_delete"):  # fmt: skip
        assert reverse(name) in text
    assert reverse("audiobooks:credits") in text
    assert "reader@example.com (primary)" in text
    assert "Two-factor authentication</strong><span>Off" in text


def test_without_google_set_up_there_is_no_connected_accounts_section_or_empty_heading(reader):
    client = browser(reader)
    text = client.get(URL).content.decode()
    assert "Connected accounts" not in text
    assert reverse("socialaccount_connections") not in text
    connections = client.get(reverse("socialaccount_connections")).content.decode()
    assert "Add a Third-Party Account" not in connections
    assert "Signing in with Google is not set up on this server" in connections


def test_with_google_set_up_the_connections_page_offers_it(reader, google_set_up):
    connections = browser(reader).get(reverse("socialaccount_connections")).content.decode()
    assert "Connect another" in connections
    assert "Google" in connections


def test_the_email_switch_turns_the_audiobook_emails_off_and_on_again(reader):
    client = browser(reader)
    off = client.post(URL, {}, follow=True)
    assert "We won’t email you about your audiobooks any more." in off.content.decode()
    reader.refresh_from_db()
    assert reader.notify_by_email is False
    assert "checked" not in off.content.decode().split('name="notify_by_email"')[1][:20]
    on = client.post(URL, {"notify_by_email": "on"}, follow=True)
    assert "We will email you when an audiobook is ready." in on.content.decode()
    reader.refresh_from_db()
    assert reader.notify_by_email is True


def test_a_session_elsewhere_is_listed_and_can_be_signed_out_from_the_account_page(reader):
    phone = browser(reader, agent=IPHONE_SAFARI)
    laptop = browser(reader)
    text = laptop.get(URL).content.decode()
    assert "This device" in text
    assert "Mobile Safari on iOS" in text
    other = UserSession.objects.get(user=reader, user_agent=IPHONE_SAFARI)
    end = reverse("account_session_end", kwargs={"pk": other.pk})
    assert end in text
    assert laptop.post(end).status_code == 302
    assert not phone.get(URL).wsgi_request.user.is_authenticated
    assert laptop.get(URL).status_code == 200


def test_someone_signed_out_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_only_get_and_post_are_answered(reader):
    assert browser(reader).put(URL).status_code == 405


ACCOUNT_PAGES = [
    "/accounts/settings/",
    "/accounts/sessions/",
    "/accounts/2fa/",
    "/accounts/email/",
    "/accounts/login/",
]


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_account_and_session_pages_are_never_stored_by_a_cache(reader, path):
    browser = Client()
    browser.force_login(reader)
    response = browser.get(path)
    assert response.status_code in (200, 302)
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_apps_session_answers_are_never_stored_by_a_cache(reader):
    response = AppClient().post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_other_pages_keep_their_own_caching(reader):
    assert "no-store" not in Client().get("/").get("Cache-Control", "")
