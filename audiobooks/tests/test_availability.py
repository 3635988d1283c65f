"""Switches staff flip in the admin: maintenance refuses new work, keeps downloads; voices go off."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.tests.conftest import PASSWORD, AppClient, make_person
from audiobooks.availability import InMaintenance, VoiceUnavailable, voices_offered
from audiobooks.models import Book, Conversion, StoredObject
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.services import book_create_from_upload, upload_start
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.storage.services import stored_object_save
from audiobooks.tests.factories import CORPUS, completed_conversion, ingest_now, upload_file
from credits.models import CreditEntry
from credits.services import credits_grant_by_system
from ebookvoice.tests.flag_helpers import own_cache_prefix, switch
from tts_engine.catalogue import voice_catalogue
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db
__all__ = ["own_cache_prefix"]  # an autouse fixture

EPUB = b"PK\x03\x04" + b"e" * 3000


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h", "upload": "1000/h"}


@pytest.fixture
def ready_book(owner) -> Book:
    book = upload_file(owner, CORPUS / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    credits_grant_by_system(user=owner, hundredths=500, reason="test float")
    return book


def submit(owner, book: Book, voice_key: str = DEFAULT_VOICE) -> Conversion:
    index = book.chapters.filter(included=True).values_list("index", flat=True)[0]
    return conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[index], voice_key=voice_key, speed=1.0
    )


# --- Maintenance -----------------------------------------------------------------------------


def test_in_maintenance_a_conversion_is_refused_with_a_message_and_nothing_is_charged(owner, ready_book):
    switch("maintenance")
    charges_before = CreditEntry.objects.count()
    with pytest.raises(InMaintenance) as refused:
        submit(owner, ready_book)
    assert "paused" in refused.value.message
    assert "downloaded" in refused.value.message
    assert Conversion.objects.count() == 0
    assert CreditEntry.objects.count() == charges_before


def test_in_maintenance_an_upload_is_refused_and_nothing_is_stored(owner):
    switch("maintenance")
    with pytest.raises(InMaintenance):
        book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="Moby Dick.epub")
    with pytest.raises(InMaintenance):
        upload_start(
            user=owner, filename="Moby Dick.epub", size=len(EPUB), content_type="application/epub+zip"
        )
    assert not Book.objects.exists()
    assert not StoredObject.objects.exists()


def test_in_maintenance_the_upload_page_answers_503_with_the_message(owner):
    switch("maintenance")
    client = Client()
    client.force_login(owner)
    response = client.post(
        reverse("audiobooks:book-upload"),
        {"file": SimpleUploadedFile("Moby Dick.epub", EPUB)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "maintenance"
    assert response["Retry-After"] == "600"


def test_in_maintenance_the_upload_page_refuses_before_reading_the_body(owner):
    switch("maintenance")
    client = Client()
    client.force_login(owner)
    response = client.generic(
        "POST",
        reverse("audiobooks:book-upload"),
        data=b"--x\r\n",
        content_type="multipart/form-data; boundary=x",
        HTTP_ACCEPT="application/json",
        CONTENT_LENGTH=str(10 * 1024**3),  # announced: 10 GB that would be streamed first
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "maintenance"


def test_in_maintenance_the_upload_api_answers_503_with_the_message():
    make_person("reader@example.com")
    switch("maintenance")
    app = AppClient()
    assert app.post("/auth/login", {"email": "reader@example.com", "password": PASSWORD}).status_code == 200
    response = app.post(
        "/api/v1/uploads", {"filename": "a.epub", "size": len(EPUB), "content_type": "application/epub+zip"}
    )
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "maintenance"
    assert "still be played and downloaded" in response.json()["error"]["message"]


def test_in_maintenance_finished_audiobooks_can_still_be_downloaded(
    owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        book = book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="Moby.epub")
    key = storage_keys.m4b_key(**deliverable_ids(completed_conversion(book)))
    stored_object_save(
        key=key, content=ContentFile(b"m4b" * 100), kind=StoredObject.Kind.M4B, owner=owner, book=book
    )
    switch("maintenance")
    client = Client()
    client.force_login(owner)
    url = reverse("audiobooks:book-file", kwargs={"book_uuid": book.uuid, "name": "book.m4b"})
    link = client.get(url)
    assert link.status_code == 302
    served = client.get(link["Location"])
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == b"m4b" * 100  # type: ignore[attr-defined]


def test_after_maintenance_conversions_are_accepted_again(owner, ready_book):
    switch("maintenance")
    switch("maintenance", active=False)
    assert submit(owner, ready_book).status == Conversion.Status.QUEUED


# --- Voices and engines ------------------------------------------------------------------------


def test_a_voice_switched_off_leaves_the_catalogue_and_is_refused_at_submission(owner, ready_book):
    assert DEFAULT_VOICE in {voice.key for voice in voices_offered()}
    switch(f"voice_off:{DEFAULT_VOICE}")
    assert DEFAULT_VOICE not in {voice.key for voice in voices_offered()}
    assert DEFAULT_VOICE in {voice.key for voice in voice_catalogue().voices}
    with pytest.raises(VoiceUnavailable) as refused:
        submit(owner, ready_book)
    assert "not available at the moment" in refused.value.message
    assert Conversion.objects.count() == 0


def test_an_engine_switched_off_takes_all_its_voices_with_it(owner, ready_book):
    switch("engine_off:piper")
    assert not [voice for voice in voices_offered() if voice.engine == "piper"]
    with pytest.raises(VoiceUnavailable):
        submit(owner, ready_book)


def test_a_voice_switched_back_on_converts_again(owner, ready_book):
    switch(f"voice_off:{DEFAULT_VOICE}")
    switch(f"voice_off:{DEFAULT_VOICE}", active=False)
    assert submit(owner, ready_book).voice_key == DEFAULT_VOICE


def test_the_voice_list_pages_read_hides_a_voice_switched_off(owner):
    switch(f"voice_off:{DEFAULT_VOICE}")
    client = Client()
    client.force_login(owner)
    listed = client.get(reverse("audiobooks:voices"))
    assert listed.status_code == 200
    assert DEFAULT_VOICE not in listed.content.decode()


def test_a_voice_switched_off_has_no_previews_either(owner):
    switch(f"voice_off:{DEFAULT_VOICE}")
    client = Client()
    client.force_login(owner)
    stock = client.get(reverse("audiobooks:voice-preview", kwargs={"voice_key": DEFAULT_VOICE}))
    own_text = client.post(
        reverse("audiobooks:voice-preview", kwargs={"voice_key": DEFAULT_VOICE}),
        {"text": "Hello there.", "speed": "1.0"},
    )
    assert (stock.status_code, own_text.status_code) == (404, 404)
