"""Voice previews rendered by a real synthesis worker process (the ``celery_worker`` fixture)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import IO, Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from mutagen.mp3 import MP3

from audiobooks.models import StoredObject
from audiobooks.voices import previews
from tts_engine.registry import DEFAULT_VOICE, get_voice

PREVIEW_URL = f"/voices/{DEFAULT_VOICE}/preview"

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def mp3_info(fileobj: IO[bytes]) -> Any:
    # mutagen declares FileType.info as None; MP3 fills it with an MPEGInfo.
    return MP3(fileobj).info


def generate(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_voice_previews", "--voice", DEFAULT_VOICE, "--wait", *args, stdout=out)
    return out.getvalue()


def test_a_stock_preview_is_rendered_once_as_mp3_of_about_ten_seconds(celery_worker):
    first = generate()
    assert first.splitlines()[-1].startswith("Made 1 voice preview (0 already stored) in ")
    stored = StoredObject.objects.get(kind=StoredObject.Kind.VOICE_PREVIEW)
    assert stored.key == previews.voice_preview_key(voice=get_voice(DEFAULT_VOICE))
    assert (stored.owner, stored.book, stored.content_type) == (None, None, "audio/mpeg")
    with default_storage.open(stored.key) as clip:
        info = mp3_info(clip)
    assert 5 < info.length < 15
    assert info.channels == 1
    modified = Path(default_storage.path(stored.key)).stat().st_mtime_ns

    second = generate()

    assert second.splitlines()[-1].startswith("Made 0 voice previews (1 already stored) in ")
    again = StoredObject.objects.get(kind=StoredObject.Kind.VOICE_PREVIEW)
    assert (again.pk, again.created_at, again.size) == (stored.pk, stored.created_at, stored.size)
    assert Path(default_storage.path(stored.key)).stat().st_mtime_ns == modified


def test_the_task_itself_does_nothing_when_the_preview_is_stored(celery_worker):
    from audiobooks.tasks import synthesize_voice_preview

    assert synthesize_voice_preview.delay(DEFAULT_VOICE).get(timeout=120) is True
    assert synthesize_voice_preview.delay(DEFAULT_VOICE).get(timeout=120) is False
    assert StoredObject.objects.filter(kind=StoredObject.Kind.VOICE_PREVIEW).count() == 1


def test_the_first_listing_asks_for_a_missing_preview_and_a_later_one_links_it(celery_worker, browser):
    [joe] = [v for v in browser.get("/voices/").json()["voices"] if v["key"] == DEFAULT_VOICE]
    assert (joe["preview_status"], joe["preview_url"]) == ("pending", None)
    assert browser.get(PREVIEW_URL).status_code == 202

    deadline = time.monotonic() + 120
    while joe["preview_status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.5)
        [joe] = [v for v in browser.get("/voices/").json()["voices"] if v["key"] == DEFAULT_VOICE]

    assert (joe["preview_status"], joe["preview_url"]) == ("ready", PREVIEW_URL)
    redirect = browser.get(joe["preview_url"])
    assert redirect.status_code == 302
    played = browser.get(redirect["Location"])
    assert played["Content-Type"] == "audio/mpeg"
    assert 5 < mp3_info(io.BytesIO(b"".join(played.streaming_content))).length < 15


def test_a_preview_of_the_readers_text_is_spoken_by_a_worker_and_answered_as_mp3(celery_worker, browser):
    response = browser.post(PREVIEW_URL, {"text": "Call me Ishmael.", "speed": "1.25"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "audio/mpeg"
    assert response["X-Preview-Trimmed"] == "0"
    assert "no-store" in response["Cache-Control"]
    assert 0.3 < mp3_info(io.BytesIO(response.content)).length < 4
    assert not StoredObject.objects.exists()  # the reader's text is never stored


def test_a_text_preview_longer_than_300_characters_is_trimmed_not_refused(celery_worker, browser):
    response = browser.post(
        PREVIEW_URL, {"text": "The sea was calm that night. " * 40}, headers={"accept": "audio/mpeg"}
    )
    assert response.status_code == 200, response.content
    assert response["X-Preview-Trimmed"] == "1"
    # 300 characters at a natural pace: about twenty seconds, not two minutes.
    assert mp3_info(io.BytesIO(response.content)).length < 30


def test_an_app_hears_its_readers_text_through_the_api_as_mp3(celery_worker, owner):
    from tests.apiclient import person_with_app

    _, api = person_with_app("phone@example.com")
    response = api.post(
        f"/api/v1/voices/{DEFAULT_VOICE}/preview", {"text": "Call me Ishmael.", "speed": 1.25}
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "audio/mpeg"
    assert response["X-Preview-Trimmed"] == "0"
    assert "no-store" in response["Cache-Control"]
    assert 0.3 < mp3_info(io.BytesIO(response.content)).length < 4
