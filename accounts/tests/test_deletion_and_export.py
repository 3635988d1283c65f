"""Account deletion and data export, with other apps taking part through accounts.signals."""

from __future__ import annotations

import json

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from accounts.models import User
from accounts.signals import user_deleting, user_exporting
from accounts.tests.conftest import PASSWORD, AppClient

pytestmark = pytest.mark.django_db


def signed_in_and_reauthenticated(email: str = "reader@example.com") -> Client:
    browser = Client()
    browser.post("/accounts/login/", {"login": email, "password": PASSWORD})
    browser.post("/accounts/reauthenticate/", {"password": PASSWORD})
    return browser


@pytest.fixture
def books_app():
    """Stands in for an app that keeps data about people (as audiobooks and credits do)."""
    calls: list[tuple[str, str]] = []

    def delete_books(sender, user, **kwargs):
        calls.append(("deleted", user.email))

    def export_books(sender, user, **kwargs):
        return {"books": [{"title": "Middlemarch", "owner": user.email}]}

    user_deleting.connect(delete_books)
    user_exporting.connect(export_books)
    yield calls
    user_deleting.disconnect(delete_books)
    user_exporting.disconnect(export_books)


def test_a_reader_downloads_their_data_as_json(reader, books_app):
    browser = signed_in_and_reauthenticated()
    response = browser.get("/accounts/export/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="ebookvoice-export-')
    data = json.loads(response.content)
    assert data["profile"]["id"] == str(reader.uuid)
    assert data["email_addresses"] == [{"email": "reader@example.com", "verified": True, "primary": True}]
    assert data["books"] == [{"title": "Middlemarch", "owner": "reader@example.com"}]
    assert len(data["sessions"]) == 1
    assert "password" not in json.dumps(data)


def test_the_export_asks_for_the_password_again_first(reader):
    browser = Client()
    browser.post("/accounts/login/", {"login": "reader@example.com", "password": PASSWORD})
    response = browser.get("/accounts/export/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")


def test_deleting_an_account_removes_the_person_and_signs_out_every_device(reader, stranger, books_app):
    phone = AppClient()
    phone.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD})
    browser = signed_in_and_reauthenticated()

    assert browser.get("/accounts/delete/").status_code == 200
    response = browser.post("/accounts/delete/", {"confirm": "on"})

    assert response.status_code == 302
    assert not User.objects.filter(email="reader@example.com").exists()
    assert not EmailAddress.objects.filter(email="reader@example.com").exists()
    assert books_app == [("deleted", "reader@example.com")]
    assert not browser.get("/").wsgi_request.user.is_authenticated
    assert phone.get("/api/v1/me").status_code == 401
    assert User.objects.filter(email="stranger@example.com").exists()


def test_an_account_is_not_deleted_without_the_confirmation_box(reader):
    browser = signed_in_and_reauthenticated()
    assert browser.post("/accounts/delete/", {}).status_code == 200
    assert User.objects.filter(email="reader@example.com").exists()


def test_a_failing_app_rolls_the_whole_deletion_back(reader):
    def broken(sender, user, **kwargs):
        raise RuntimeError("storage is down")

    user_deleting.connect(broken)
    try:
        browser = signed_in_and_reauthenticated()
        with pytest.raises(RuntimeError):
            browser.post("/accounts/delete/", {"confirm": "on"})
    finally:
        user_deleting.disconnect(broken)
    assert User.objects.filter(email="reader@example.com").exists()
