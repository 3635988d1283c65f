"""An entry's fields checked and cleaned, each rule broken a refusal of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from audiobooks import errors
from tts_engine import lexicon as speech_lexicon
from tts_engine.engines.base import EngineError
from tts_engine.registry import DEFAULT_VOICE, get_engine, split_voice_key

MAX_NOTE_CHARS = 500

_REFUSALS: dict[type[speech_lexicon.LexiconError], type[errors.LexiconRefused]] = {
    speech_lexicon.EmptyEntry: errors.EmptyLexiconEntry,
    speech_lexicon.EntryTooLong: errors.LexiconEntryTooLong,
    speech_lexicon.InvalidPhonemes: errors.InvalidIpa,
    speech_lexicon.UnsayablePhonemes: errors.PhonemesNotInVoice,
    speech_lexicon.PhonemesNotSupported: errors.PhonemesNotSupported,
}


@contextmanager
def refusals() -> Iterator[None]:
    """``tts_engine.lexicon``'s errors as the app's refusals, each with its own code."""
    try:
        yield
    except speech_lexicon.LexiconError as exc:
        raise _REFUSALS.get(type(exc), errors.LexiconRefused)(exc.message) from exc


@dataclass(frozen=True)
class EntryInput:
    """An entry as a form, the API or a file gives it, before or after ``entry_checked``."""

    text: str
    respelling: str = ""
    phonemes: str = ""
    case_sensitive: bool = False
    whole_word: bool = True
    note: str = ""

    def as_entry(self) -> speech_lexicon.Entry:
        return speech_lexicon.Entry(
            text=self.text,
            respelling=self.respelling,
            phonemes=self.phonemes,
            case_sensitive=self.case_sensitive,
            whole_word=self.whole_word,
        )


def phoneme_check_voice() -> tuple[str, frozenset[str] | None]:
    """The voice an entry's phonemes are checked against when it is saved: the default voice.

    Entries belong to no voice; a conversion checks them again against the
    voice it is made with (``voicing``).
    """
    engine, voice_id = split_voice_key(DEFAULT_VOICE)
    try:
        found = get_engine(engine)
        return found.voice(voice_id).name, found.phoneme_symbols(voice_id)
    except EngineError:
        return DEFAULT_VOICE, None


def entry_checked(entry: EntryInput) -> EntryInput:
    """``entry`` cleaned (spaces, the slashes around IPA), or a ``LexiconRefused``.

    The rules are the API schema's (``audiobooks.api.lexicon``), so a request
    the schema allows is one this accepts.
    """
    if len(entry.note or "") > MAX_NOTE_CHARS:
        raise errors.LexiconEntryTooLong(f"A note can be at most {MAX_NOTE_CHARS} characters long.")
    with refusals():
        text = speech_lexicon.clean_text(entry.text)
        respelling = speech_lexicon.clean_respelling(entry.respelling)
        phonemes = speech_lexicon.clean_phonemes(entry.phonemes)
        note = (entry.note or "").strip()
        cleaned = replace(entry, text=text, respelling=respelling, phonemes=phonemes, note=note)
        speech_lexicon.check_entry(cleaned.as_entry())
        if phonemes:
            voice_name, symbols = phoneme_check_voice()
            speech_lexicon.check_sayable(cleaned.as_entry(), symbols=symbols, voice_name=voice_name)
    return cleaned
