"""An app's view of ``/api/v1/`` for tests: signed in through allauth's headless API, JSON in and out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.test import Client

from accounts.models import User
from accounts.tests.conftest import PASSWORD, make_person
from audiobooks.models import Book
from audiobooks.tests.factories import story_book

LOGIN = "/_allauth/app/v1/auth/login"


class Api:
    """A phone app with a session token: every request sends ``X-Session-Token``."""

    def __init__(self, token: str | None = None, **defaults: Any) -> None:
        self.http = Client(**defaults)
        self.token = token

    def request(
        self, method: str, path: str, data: Any = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> Any:
        sent = {**({"X-Session-Token": self.token} if self.token else {}), **(headers or {})}
        if data is not None and "content_type" not in extra:
            extra.update(data=json.dumps(data), content_type="application/json")
        elif data is not None:
            extra["data"] = data
        return getattr(self.http, method.lower())(path, headers=sent, **extra)

    def get(self, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.http.get(path, data, headers={"X-Session-Token": self.token or "", **extra})

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.request("POST", path, {} if data is None else data, **extra)

    def put(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.request("PUT", path, data, **extra)

    def patch(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.request("PATCH", path, data, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.request("DELETE", path, **extra)


def session_token(email: str, password: str = PASSWORD) -> str:
    response = Client().post(
        LOGIN, json.dumps({"email": email, "password": password}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    token = response.json()["meta"]["session_token"]
    assert token
    return str(token)


def person_with_app(email: str) -> tuple[User, Api]:
    """A verified person and their phone, signed in."""
    user = make_person(email)
    return user, Api(session_token(email))


def ready_book(user: User, directory: Path, titles: tuple[str, ...] = ("The Harbour", "The Storm")) -> Book:
    return story_book(user, directory, titles=titles)


def assert_error(response: Any, status: int, code: str, message: str = "") -> dict[str, Any]:
    """The envelope, with this status and code, and a message that says ``message``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert message in error["message"], error["message"]
    return dict(error)
