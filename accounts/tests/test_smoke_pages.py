"""Every account page renders inside the site's layout, signed out and signed in."""

from __future__ import annotations

import pytest

from accounts.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/", "/accounts/login/", "/accounts/signup/", "/accounts/magic-link/", "/accounts/magic-link/sent/",
     "/accounts/password/reset/", "/accounts/login/code/"],
)  # fmt: skip
def test_every_sign_in_page_renders_for_a_visitor(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b'class="site-header"' in response.content


@pytest.mark.parametrize(
    "path",
    ["/accounts/email/", "/accounts/password/change/", "/accounts/2fa/", "/accounts/2fa/totp/activate/",
     "/accounts/sessions/", "/accounts/3rdparty/", "/accounts/delete/"],
)  # fmt: skip
def test_every_account_page_renders_for_a_signed_in_reader(client, reader, path):
    client.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    response = client.get(path)
    assert response.status_code == 200
    assert b'class="account-nav"' in response.content


def test_staff_see_magic_links_in_the_admin_without_their_hashes(client, staff):
    from accounts.magic_links import magic_link_create

    magic_link_create(user=staff, email=staff.email)
    client.post("/accounts/login/", {"login": "staff@example.com", "password": PASSWORD})
    page = client.get("/admin/accounts/magiclink/")
    assert page.status_code == 200
    assert b"staff@example.com" in page.content
    link_page = client.get(page.context["cl"].url_for_result(page.context["cl"].result_list[0]))
    assert link_page.status_code == 200
    assert b"token_hash" not in link_page.content
