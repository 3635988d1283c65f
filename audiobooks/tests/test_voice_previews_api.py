"""The reader's own text previewed through the API, ``POST /api/v1/voices/{key}/preview``, without a worker.

The same service and the same limit as the web's ``POST /voices/<key>/preview``
(``test_voice_previews.py``); what a worker renders is in ``test_voice_previews_worker.py``.
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.voices import previews
from credits.ratelimits import Action, check_rate_limit
from tests.apiclient import person_with_app
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

PREVIEW_URL = f"/voices/{DEFAULT_VOICE}/preview"


def use_up_text_previews(user) -> None:
    check_rate_limit(request_or_key=str(user.pk), action=Action.TEXT_PREVIEW)


API_PREVIEW_URL = f"/api/v1/voices/{DEFAULT_VOICE}/preview"


@pytest.fixture
def phone(db):
    return person_with_app("phone@example.com")


def test_the_api_preview_needs_a_session(db):
    response = Client().post(API_PREVIEW_URL, {"text": "Hello."}, content_type="application/json")
    assert response.status_code == 401


def test_the_api_preview_of_an_unknown_voice_is_a_404(phone):
    _, api = phone
    response = api.post("/api/v1/voices/piper:xx_XX-nobody-low/preview", {"text": "Hello."})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_voice"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "Hello there.", "speed": 3}, "Speed must be between 0.5 and 2.0, not 3."),
        ({"text": "Hello there.", "speed": "fast"}, "Speed must be a number between 0.5 and 2.0."),
        ({"text": ""}, "Type some text to hear it read."),
        ({"text": 42}, "Type some text to hear it read."),
        ({}, "Type some text to hear it read."),
        (["Hello there."], "Send a JSON object with text and speed."),
    ],
)
def test_the_api_refuses_what_the_web_refuses_with_the_same_400(phone, body, message, settings):
    settings.CREDITS_RATE_LIMITS = {"text_preview": "1/h"}
    user, api = phone
    response = api.post(API_PREVIEW_URL, body)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    use_up_text_previews(user)  # a refused request used no slot


def test_the_api_preview_takes_json_only(phone):
    _, api = phone
    response = api.post(API_PREVIEW_URL, "text=Hello", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_the_api_and_the_web_share_one_preview_limit_per_person(phone, settings):
    settings.CREDITS_RATE_LIMITS = {"text_preview": "1/h"}
    user, api = phone
    browser = Client()
    browser.force_login(user)
    use_up_text_previews(user)  # as the web's one preview this hour would
    response = api.post(API_PREVIEW_URL, {"text": "Hello there."})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response.json()["error"]["message"].startswith(
        "You have reached the limit of 1 preview of your own text per hour."
    )
    assert browser.post(PREVIEW_URL, {"text": "Hello there."}).status_code == 429


def test_when_no_worker_answers_the_api_preview_is_a_503_with_retry_after(phone, monkeypatch):
    # No synthesis worker runs in this test: the request waits (here 1 s, not 30) and gives up.
    monkeypatch.setattr(previews, "TEXT_PREVIEW_WAIT_SECONDS", 1)
    _, api = phone
    response = api.post(API_PREVIEW_URL, {"text": "Hello there."})
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response.json()["error"]["code"] == "preview_busy"
