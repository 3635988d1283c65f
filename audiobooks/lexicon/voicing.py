"""The entries each Part of a conversion is spoken with, chosen at submission so its cache key is known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from audiobooks.models import Book
from audiobooks.voices.previews import TextPreviewRequest, text_preview_validate
from tts_engine import lexicon as speech_lexicon
from tts_engine.registry import get_engine, get_voice, split_voice_key

from .checks import EntryInput, entry_checked, refusals
from .selectors import book_voice_key, lexicon_for_book


class PartsLexicon:
    """A reader's entries for one book, voiced for one voice."""

    def __init__(self, entries: Sequence[speech_lexicon.Entry], *, voice_key: str) -> None:
        self.entries = list(entries)
        engine, voice_id = split_voice_key(voice_key)
        self.voice_name = get_voice(voice_key).name
        # None: the voice takes no phonemes (Coqui, or a Piper voice that is not espeak's).
        self.symbols = get_engine(engine).phoneme_symbols(voice_id) if self.entries else None

    def for_text(self, text: str, title: str | None = None) -> list[speech_lexicon.Applied]:
        """What the engine is given for the entries that touch ``text`` (and the spoken ``title``).

        Refuses (``PhonemesNotSupported``, ``PhonemesNotInVoice``) an entry
        this voice cannot say, before anything is charged.
        """
        if not self.entries:
            return []
        touching = speech_lexicon.entries_touching(self.entries, text, title or "")
        with refusals():
            for entry in touching:
                if self.symbols is not None:
                    speech_lexicon.check_sayable(entry, symbols=self.symbols, voice_name=self.voice_name)
            return [
                speech_lexicon.applied_for(
                    entry, takes_phonemes=self.symbols is not None, voice_name=self.voice_name
                )
                for entry in touching
            ]


def word_preview(*, book: Book, text: str, respelling: str = "", phonemes: str = "") -> TextPreviewRequest:
    """A preview of ``text`` in the book's voice, said with the book's lexicon as a Part would be.

    With a ``respelling`` or ``phonemes`` typed and not yet saved, those are
    used for the word instead (checked as an entry is: each refusal its own).
    """
    entries = lexicon_for_book(book=book)
    if respelling.strip() or phonemes.strip():
        trying = entry_checked(EntryInput(text=text, respelling=respelling, phonemes=phonemes))
        folded = trying.text.casefold()
        entries = [entry for entry in entries if entry.text.casefold() != folded] + [trying.as_entry()]
    preview = text_preview_validate(voice_key=book_voice_key(book=book), text=text, speed=1.0)
    applied = PartsLexicon(entries, voice_key=preview.voice.key).for_text(preview.text)
    return replace(preview, lexicon=tuple(applied))
