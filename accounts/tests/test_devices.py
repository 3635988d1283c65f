"""Sessions name their device in words, on the account page and the sessions page."""

from __future__ import annotations

import pytest
from allauth.usersessions.models import UserSession
from django.test import Client
from django.urls import reverse

from accounts.devices import device_name
from accounts.tests.conftest import PASSWORD

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("user_agent", "words"),
    [
        (CHROME_LINUX, "Chrome on Linux"),
        (SAFARI_IPHONE, "Mobile Safari on iOS"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
            "Firefox on Windows",
        ),
        ("", "Unknown device"),
        ("   ", "Unknown device"),
        ("\x00" * 5000, "Unknown device"),
    ],
)
def test_a_user_agent_reads_as_browser_on_system(user_agent, words):
    assert device_name(user_agent) == words


@pytest.mark.django_db
def test_the_account_and_sessions_pages_show_devices_in_words(reader):
    for agent in (CHROME_LINUX, SAFARI_IPHONE):
        here = Client(HTTP_USER_AGENT=agent)
        here.post(reverse("account_login"), {"login": reader.email, "password": PASSWORD})
    assert UserSession.objects.filter(user=reader).count() == 2
    for path in ("/accounts/settings/", "/accounts/sessions/"):
        page = here.get(path).content.decode()
        assert "Chrome on Linux" in page, path
        shown = page.replace(f'title="{CHROME_LINUX}"', "").replace(f'title="{SAFARI_IPHONE}"', "")
        assert "AppleWebKit" not in shown, path
