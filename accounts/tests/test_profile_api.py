"""``PATCH /api/v1/me``: a person changes their name and email-notification choice, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.conftest import PASSWORD, AppClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone(reader: User) -> AppClient:
    app = AppClient()
    assert app.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD}).status_code == 200
    return app


def refused(response: Any, field: str) -> str:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    return str(error["message"])


def test_a_reader_changes_their_name_and_turns_notifications_off(phone, reader):
    response = phone.patch(
        "/api/v1/me", {"first_name": "Ada", "last_name": "Lovelace", "notify_by_email": False}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["first_name"], body["last_name"], body["notify_by_email"]) == ("Ada", "Lovelace", False)
    reader.refresh_from_db()
    assert (reader.first_name, reader.last_name, reader.notify_by_email) == ("Ada", "Lovelace", False)
    assert phone.get("/api/v1/me").json() == body


def test_a_patch_changes_only_the_fields_it_names(phone, reader):
    phone.patch("/api/v1/me", {"first_name": "Ada", "last_name": "Lovelace"})
    response = phone.patch("/api/v1/me", {"notify_by_email": False})
    assert response.status_code == 200
    reader.refresh_from_db()
    assert (reader.first_name, reader.last_name, reader.notify_by_email) == ("Ada", "Lovelace", False)


def test_an_empty_patch_changes_nothing_and_answers_the_profile(phone, reader):
    response = phone.patch("/api/v1/me", {})
    assert response.status_code == 200
    assert response.json()["notify_by_email"] is True


def test_a_name_can_be_cleared(phone, reader):
    phone.patch("/api/v1/me", {"first_name": "Ada"})
    assert phone.patch("/api/v1/me", {"first_name": ""}).json()["first_name"] == ""


def test_surrounding_spaces_are_trimmed(phone, reader):
    assert phone.patch("/api/v1/me", {"first_name": "  Ada  "}).json()["first_name"] == "Ada"


def test_the_email_and_id_cannot_be_changed_here(phone, reader):
    message = refused(phone.patch("/api/v1/me", {"email": "someone@example.com"}), "email")
    assert "email" in message
    refused(phone.patch("/api/v1/me", {"id": "00000000-0000-0000-0000-000000000000"}), "id")
    reader.refresh_from_db()
    assert reader.email == "reader@example.com"


def test_an_unknown_field_is_refused_rather_than_ignored(phone, reader):
    refused(phone.patch("/api/v1/me", {"first_name": "Ada", "notify": False}), "notify")
    reader.refresh_from_db()
    assert reader.first_name == "", "nothing of a refused request is saved"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"first_name": "x" * 151}, "first_name"),
        ({"last_name": "x" * 151}, "last_name"),
        ({"first_name": 42}, "first_name"),
        ({"first_name": None}, "first_name"),
        ({"first_name": "Ada\nLovelace"}, "first_name"),
        ({"notify_by_email": "perhaps"}, "notify_by_email"),
        ({"notify_by_email": None}, "notify_by_email"),
    ],
)
def test_invalid_values_are_refused_with_400(phone, reader, body, field):
    refused(phone.patch("/api/v1/me", body), field)
    reader.refresh_from_db()
    assert (reader.first_name, reader.last_name, reader.notify_by_email) == ("", "", True)


def test_a_nul_character_in_a_name_is_refused_with_400(phone, reader):
    response = phone.patch("/api/v1/me", {"last_name": "Love\x00lace"})
    assert response.status_code == 400
    reader.refresh_from_db()
    assert reader.last_name == ""


def test_a_body_that_is_not_an_object_is_refused_with_400(phone):
    response = phone.patch("/api/v1/me", ["first_name", "Ada"])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_body_that_is_not_json_is_refused_with_400(phone):
    response = phone.patch("/api/v1/me", "first_name=Ada", content_type="application/json")
    assert response.status_code == 400


def test_a_form_encoded_body_is_refused_with_415(phone):
    response = phone.http.patch(
        "/api/v1/me",
        "first_name=Ada",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Session-Token": phone.session_token},
    )
    assert response.status_code == 415


def test_changing_the_profile_needs_a_session(db):
    response = Client().patch("/api/v1/me", '{"first_name": "Ada"}', content_type="application/json")
    assert response.status_code == 401
