"""Every page allauth serves under /accounts/ is drawn as the site's own.

The URL patterns are walked, so a page a new allauth version adds fails
``test_every_allauth_page_is_reached_here`` until it is reached here too. Each
page is reached as a reader would reach it (signed out, signed in, half-way
through a sign-in, with two-factor on) and must come in the site's layout
(``base.html`` through ``allauth/layouts/``: the header, the footer, ``main.auth``
that the stylesheet dresses allauth's parts in), with its own title, and the
account menu on the account pages. ``tests/test_browser_journey.py`` opens the
same pages in Chromium and runs axe on them at 1280 and 360 px.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import User
from accounts.tests.conftest import PASSWORD, make_person
from accounts.tests.test_google import CLIENT_ID, TOKEN_URL, USERINFO_URL

pytestmark = pytest.mark.django_db

EMAIL = "reader@example.com"

# allauth's URLs under /accounts/ that answer with something other than a page.
NOT_PAGES = {
    "mfa_download_recovery_codes": "the recovery codes as a text file",
    "google_login_by_token": "Google's One Tap posts its token here and is sent on",
}


def allauth_page_names() -> set[str]:
    """The names of the URLs under /accounts/ that allauth's own views answer."""

    def walk(resolver: URLResolver, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    return {
        pattern.name
        for route, pattern in walk(get_resolver(), "")
        if route.startswith("accounts/")
        and pattern.name
        and getattr(pattern.callback, "__module__", "").startswith("allauth.")
    }


# --- How a reader reaches each page: each takes a fresh client and returns the path to open -------


def signed_in(client: Client, user: User | None = None) -> Client:
    user = user or make_person(EMAIL)
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def with_two_factor(user: User) -> str:
    """Turns on TOTP and recovery codes for ``user``; returns a recovery code."""
    TOTP.activate(user, generate_totp_secret())
    return RecoveryCodes.activate(user).get_unused_codes()[0]


def signed_in_with_two_factor(client: Client) -> str:
    """Half-way: the password was right, and the second factor is asked for."""
    user = make_person(EMAIL)
    with_two_factor(user)
    response = client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    return "/accounts/2fa/authenticate/"


def fully_signed_in_with_two_factor(client: Client) -> Client:
    """Signed in by password and a recovery code, a moment ago (so no page asks again)."""
    recovery_code = with_two_factor(make_person(EMAIL))
    client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD})
    response = client.post("/accounts/2fa/authenticate/", {"code": recovery_code})
    assert response.status_code == 302, response
    assert "/2fa/" not in response["Location"]
    return reauthenticated(client)


def reauthenticated(client: Client) -> Client:
    """The password given again, as the security pages ask before they open."""
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def visitor(path: str) -> Callable[[Client], str]:
    return lambda client: path


def reader(path: str) -> Callable[[Client], str]:
    def reach(client: Client) -> str:
        reauthenticated(signed_in(client))
        return path

    return reach


def reader_with_two_factor(path: str) -> Callable[[Client], str]:
    def reach(client: Client) -> str:
        fully_signed_in_with_two_factor(client)
        return path

    return reach


def sign_up_pending(client: Client) -> str:
    response = client.post("/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD})
    assert response["Location"] == "/accounts/confirm-email/"
    return "/accounts/confirm-email/"


def login_code_pending(client: Client) -> str:
    make_person(EMAIL)
    response = client.post("/accounts/login/code/", {"email": EMAIL})
    assert response["Location"] == "/accounts/login/code/confirm/"
    return "/accounts/login/code/confirm/"


def password_reset_link(client: Client) -> str:
    user = make_person(EMAIL)
    return (
        f"/accounts/password/reset/key/{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}/"
    )


def password_set(client: Client) -> str:
    user = make_person(EMAIL)
    user.set_unusable_password()  # as after signing up with Google
    user.save(update_fields=["password"])
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return "/accounts/password/set/"


def google_sign_up_without_an_address(client: Client) -> str:
    """Google answered without an email address: the reader gives one on the social sign-up page."""
    start = client.post("/accounts/google/login/")
    state = re.search(r"state=([^&]+)", start["Location"])
    assert state is not None
    with responses.RequestsMock() as google:
        google.post(TOKEN_URL, json={"access_token": "ya29.a", "expires_in": 3599})
        google.get(USERINFO_URL, json={"id": "1234", "name": "Ada"})
        done = client.get("/accounts/google/login/callback/", {"state": state.group(1), "code": "auth-code"})
    assert done["Location"] == "/accounts/3rdparty/signup/"
    return "/accounts/3rdparty/signup/"


PAGES: dict[str, Callable[[Client], str]] = {
    # Signed out.
    "account_login": visitor("/accounts/login/"),
    "account_signup": visitor("/accounts/signup/"),
    "account_email_verification_sent": sign_up_pending,
    "account_request_login_code": visitor("/accounts/login/code/"),
    "account_confirm_login_code": login_code_pending,
    "account_reset_password": visitor("/accounts/password/reset/"),
    "account_reset_password_done": visitor("/accounts/password/reset/done/"),
    "account_reset_password_from_key": password_reset_link,
    "account_reset_password_from_key_done": visitor("/accounts/password/reset/key/done/"),
    "account_inactive": visitor("/accounts/inactive/"),
    "mfa_authenticate": signed_in_with_two_factor,
    "google_login": visitor("/accounts/google/login/"),
    "google_callback": visitor("/accounts/google/login/callback/?error=access_denied&state=unknown"),
    "socialaccount_login_cancelled": visitor("/accounts/3rdparty/login/cancelled/"),
    "socialaccount_login_error": visitor("/accounts/3rdparty/login/error/"),
    "socialaccount_signup": google_sign_up_without_an_address,
    # Signed in.
    "account_logout": reader("/accounts/logout/"),
    "account_reauthenticate": reader("/accounts/reauthenticate/"),
    "account_email": reader("/accounts/email/"),
    "account_change_password": reader("/accounts/password/change/"),
    "account_set_password": password_set,
    "mfa_index": reader("/accounts/2fa/"),
    "mfa_activate_totp": reader("/accounts/2fa/totp/activate/"),
    "mfa_reauthenticate": reader_with_two_factor("/accounts/2fa/reauthenticate/"),
    "mfa_deactivate_totp": reader_with_two_factor("/accounts/2fa/totp/deactivate/"),
    "mfa_view_recovery_codes": reader_with_two_factor("/accounts/2fa/recovery-codes/"),
    "mfa_generate_recovery_codes": reader_with_two_factor("/accounts/2fa/recovery-codes/generate/"),
    "socialaccount_connections": reader("/accounts/3rdparty/"),
    "usersessions_list": reader("/accounts/sessions/"),
}

# Pages that say something went wrong, with a status that says so.
STATUS = {"google_callback": 401, "socialaccount_login_error": 401}
# A password-reset link moves its key into the session and goes on to an address without it.
MOVES_ON = {"account_reset_password_from_key"}

# The account area's pages, which carry its menu; the rest are entrances (sign-in, codes, sign-up).
ACCOUNT_AREA = {
    "account_email", "account_change_password", "account_set_password", "mfa_index", "mfa_activate_totp",
    "mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
    "socialaccount_connections", "usersessions_list",
}  # fmt: skip


@pytest.fixture(autouse=True)
def google_configured(settings: Any) -> None:
    """Google's pages exist only with a client configured (nothing is sent to Google here)."""
    providers = json.loads(json.dumps(settings.SOCIALACCOUNT_PROVIDERS))
    providers["google"]["APPS"] = [{"client_id": CLIENT_ID, "secret": "test-secret", "key": ""}]
    settings.SOCIALACCOUNT_PROVIDERS = providers


def test_every_allauth_page_is_reached_here() -> None:
    assert allauth_page_names() == set(PAGES) | set(NOT_PAGES)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_allauth_page_is_drawn_in_the_sites_layout(name: str) -> None:
    client = Client()
    path = PAGES[name](client)
    response = client.get(path, follow=True)
    assert response.status_code == STATUS.get(name, 200)
    assert bool(response.redirect_chain) == (name in MOVES_ON), response.redirect_chain
    names = [template.name for template in response.templates]
    assert "base.html" in names, names
    assert "allauth/layouts/base.html" in names, names
    html = response.content.decode()
    assert 'class="site-header' in html
    assert 'class="site-footer"' in html
    main = re.search(r'<main id="main" tabindex="-1" class="([^"]*)">', html)
    assert main is not None
    assert set(main.group(1).split()) & {"auth-entrance", "auth-manage"}, main.group(0)
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None
    assert re.fullmatch(r"\S[^\n]* · eBookVoice", title.group(1)), title.group(1)
    # The page itself is one of the site's templates, in its words, not allauth's stock one.
    page = response.templates[0]
    assert Path(page.origin.name).is_relative_to(settings.BASE_DIR / "templates"), page.origin.name
    assert ('class="account-nav"' in html) == (name in ACCOUNT_AREA), name
    # allauth's stock wording that the issue found on these pages.
    assert "Third-Party" not in html
