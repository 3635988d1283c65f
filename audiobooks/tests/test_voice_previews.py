"""Voice listing and previews: access, validation and limits, without a worker.

What a worker renders is tested in ``test_voice_previews_worker.py``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from unittest.mock import ANY

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audiobooks.models import StoredObject
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import stored_object_save
from audiobooks.voices import previews
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.paths import BASE_DIR
from tts_engine.registry import DEFAULT_VOICE, get_voice

PREVIEW_URL = f"/voices/{DEFAULT_VOICE}/preview"
UNKNOWN_URL = "/voices/piper:xx_XX-nobody-low/preview"


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def store_fake_preview() -> StoredObject:
    key = previews.voice_preview_key(voice=get_voice(DEFAULT_VOICE))
    return stored_object_save(
        key=key,
        content=io.BytesIO(b"ID3 not really audio"),
        kind=StoredObject.Kind.VOICE_PREVIEW,
        filename="Joe preview.mp3",
    )


def use_up_text_previews(user) -> None:
    check_rate_limit(request_or_key=str(user.pk), action=Action.TEXT_PREVIEW)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"), [("get", "/voices/"), ("get", PREVIEW_URL), ("post", PREVIEW_URL)]
)
def test_an_anonymous_request_is_answered_401_with_a_json_message_not_a_redirect(method, url):
    response = getattr(Client(), method)(url, {"text": "Hello."} if method == "post" else {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_list_shows_each_voice_with_its_catalogue_fields_and_stored_preview_url(browser):
    store_fake_preview()
    browser.get("/voices/")  # the first request of a session records it (allauth usersessions)
    with CaptureQueriesContext(connection) as queries:
        response = browser.get("/voices/")
    assert response.status_code == 200
    # One query finds every voice's preview, however many voices there are.
    assert [q["sql"] for q in queries if "audiobooks_storedobject" in q["sql"]] == [ANY]
    [joe] = [voice for voice in response.json()["voices"] if voice["key"] == DEFAULT_VOICE]
    assert joe == {
        "engine": "piper",
        "key": DEFAULT_VOICE,
        "id": "en_US-joe-medium",
        "name": joe["name"],
        "language": "en-US",
        "quality": "medium",
        "licence": "CC0-1.0 (voice data), MIT (package)",
        "non_commercial": False,
        "sample_rate": 22050,
        "preview_url": PREVIEW_URL,
        "preview_status": "ready",
    }


def test_a_stored_preview_redirects_to_a_fresh_link_that_plays_inline(browser):
    store_fake_preview()
    response = browser.get(PREVIEW_URL)
    assert response.status_code == 302
    assert "no-store" in response["Cache-Control"]
    played = browser.get(response["Location"])
    assert played.status_code == 200
    assert played["Content-Type"] == "audio/mpeg"
    assert played["Content-Disposition"].startswith("inline")
    assert b"".join(played.streaming_content) == b"ID3 not really audio"


def test_stock_previews_are_not_counted_by_the_text_preview_limit(browser, owner, settings):
    settings.CREDITS_RATE_LIMITS = {"text_preview": "1/h"}
    store_fake_preview()
    use_up_text_previews(owner)
    assert [browser.get(PREVIEW_URL).status_code for _ in range(3)] == [302, 302, 302]


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_voice_is_a_404(browser, method):
    response = getattr(browser, method)(UNKNOWN_URL, {"text": "Hello."} if method == "post" else {})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_voice"


@pytest.mark.parametrize(
    ("speed", "message"),
    [
        ("3", "Speed must be between 0.5 and 2.0, not 3."),
        ("0.1", "Speed must be between 0.5 and 2.0, not 0.1."),
        ("nan", "Speed must be between 0.5 and 2.0, not nan."),
        ("fast", "Speed must be a number between 0.5 and 2.0."),
    ],
)
def test_a_speed_outside_half_to_double_is_a_400_that_says_so(browser, speed, message):
    response = browser.post(PREVIEW_URL, {"text": "Hello there.", "speed": speed})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message


@pytest.mark.parametrize("text", ["", "   \n ", None])
def test_a_text_preview_with_no_text_is_a_400(browser, text):
    body = {} if text is None else {"text": text}
    response = browser.post(PREVIEW_URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Type some text to hear it read."


def test_a_refused_text_preview_uses_no_slot_of_the_limit(browser, owner, settings):
    settings.CREDITS_RATE_LIMITS = {"text_preview": "1/h"}
    browser.post(PREVIEW_URL, {"text": "Hi.", "speed": "9"})
    browser.post(UNKNOWN_URL, {"text": "Hi."})
    use_up_text_previews(owner)  # the one slot is still free, so this uses it without raising


def test_over_the_limit_a_text_preview_is_a_429_with_retry_after_and_a_message(browser, owner, settings):
    settings.CREDITS_RATE_LIMITS = {"text_preview": "1/h"}
    use_up_text_previews(owner)
    response = browser.post(PREVIEW_URL, {"text": "Hello there."})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response.json()["error"]["code"] == "rate_limited"
    assert response.json()["error"]["message"].startswith(
        "You have reached the limit of 1 preview of your own text per hour."
    )


def test_when_redis_is_down_a_text_preview_is_a_503_with_retry_after(browser, settings):
    settings.CACHES = {
        **settings.CACHES,
        # Port 1 refuses at once: nothing listens there.
        "unreachable": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.RATELIMIT_USE_CACHE = "unreachable"
    response = browser.post(PREVIEW_URL, {"text": "Hello there."})
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "try again in a minute" in response.json()["error"]["message"]


def test_a_stock_preview_key_is_server_made_and_changes_with_the_normaliser():
    voice = get_voice(DEFAULT_VOICE)
    key = previews.voice_preview_key(voice=voice)
    assert key.startswith("voices/previews/")
    assert key.endswith(".mp3")
    digest = key.removeprefix("voices/previews/").removesuffix(".mp3")
    assert digest == storage_keys.voice_preview_digest(
        voice_key=DEFAULT_VOICE,
        normaliser_version=previews.NORMALISER_VERSION,
        text=previews.sample_text("en"),
    )
    assert digest != storage_keys.voice_preview_digest(
        voice_key=DEFAULT_VOICE,
        normaliser_version=previews.NORMALISER_VERSION + 1,
        text=previews.sample_text("en"),
    )


def test_the_web_process_lists_voices_and_checks_previews_without_importing_onnxruntime_or_torch():
    probe = (
        "import django, json, sys\n"
        "django.setup()\n"
        "import ebookvoice.urls, audiobooks.web.voices\n"
        "from audiobooks.voices import previews\n"
        "from tts_engine.catalogue import voice_catalogue\n"
        "voices = voice_catalogue().voices\n"
        "assert voices\n"
        "for voice in voices:\n"
        "    previews.voice_preview_key(voice=voice)\n"
        f"previews.text_preview_validate(voice_key={DEFAULT_VOICE!r}, text='Hello.', speed='1.5')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": django_settings.SETTINGS_MODULE},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "audiobooks.web.voices" in modules
    assert not {"onnxruntime", "torch", "piper", "TTS"} & modules


@pytest.mark.django_db
def test_generate_voice_previews_with_sync_renders_in_its_own_process_and_says_what_it_did():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("generate_voice_previews", "--voice", DEFAULT_VOICE, "--sync", stdout=out)
    assert out.getvalue().splitlines()[-1].startswith("Made 1 voice preview (0 already stored) in ")
    assert StoredObject.objects.filter(kind=StoredObject.Kind.VOICE_PREVIEW).count() == 1


@pytest.mark.django_db
def test_generate_voice_previews_refuses_an_unknown_voice_by_name():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="There is no voice 'piper:nobody'"):
        call_command("generate_voice_previews", "--voice", "piper:nobody")
