"""A reader's pronunciation lexicon, applied to the text an engine is given.

Plain Python, no models: ``audiobooks`` stores the entries and picks, for each
Part, the ones whose word occurs in its raw text (``entries_touching``), so the
Part's render-cache key is known when the conversion is submitted; this module
decides what an entry makes the engine say.

An entry says a word (or phrase) either as a *respelling* ("Kwee-kweg"),
which is substituted into the text before ``tts_engine.text.normalise``, or as
*phonemes* (IPA as the voice's phonemizer writes it). Phonemes reach Piper as
piper-tts's inline phoneme blocks, ``[[ kwˈiːkwɛɡ ]]``: ``PiperVoice.phonemize``
passes a block's characters straight to ``phoneme_id_map`` and never through
espeak-ng. A block cannot go through the normaliser (brackets become commas,
so ``[[ kwiːkweɡ ]]`` would be read as ``, kwiːkweɡ,``), so the word is first
replaced by a placeholder the normaliser leaves alone, the sentence is
normalised and cut into chunks, and only then does each placeholder become its
block. Each phoneme symbol is checked against the voice's ``phoneme_id_map``.

An engine that takes no phoneme input (Coqui) is given the entry's respelling
when it has one; an entry with phonemes alone is refused for such a voice
(``PhonemesNotSupported``), rather than read as written without a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

MAX_TEXT_CHARS = 100
MAX_RESPELLING_CHARS = 200
# A phoneme block must fit whole in the shortest chunk an engine is given
# (``tts_engine.speech.chunk_limit``: 40 characters), brackets included, so a
# chunk never ends inside one. The IPA of a name is far shorter; a longer
# phrase is better as two entries.
MAX_PHONEMES = 36

# A placeholder is the word's first letter, so the normaliser sees a capital
# where there was one ("Mr. Queequeg" still reads "Mister"), then Yi syllables:
# letters to the normaliser (so an apostrophe after one stays: "Queequeg's"),
# never touched by its English rules, and not found in the books this reads.
# Letter, marker, entry number, then padding to the length of the block.
_MARK = "\ua000"
_PAD = "\ua001"
_INDEX_BASE = 0xA010
_MAX_ENTRIES_PER_TEXT = 1000
_PLACEHOLDER = re.compile(
    f"[^\\W\\d_]?{_MARK}([\\U{_INDEX_BASE:08x}-\\U{_INDEX_BASE + _MAX_ENTRIES_PER_TEXT:08x}]){_PAD}*"
)


class LexiconError(ValueError):
    """An entry that cannot be used as it stands; ``code`` says which rule it broke."""

    code = "invalid_lexicon_entry"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyEntry(LexiconError):
    code = "empty_lexicon_entry"


class EntryTooLong(LexiconError):
    code = "lexicon_entry_too_long"


class InvalidPhonemes(LexiconError):
    code = "invalid_ipa"


class UnsayablePhonemes(LexiconError):
    code = "phonemes_not_in_voice"


class PhonemesNotSupported(LexiconError):
    code = "phonemes_not_supported"


@dataclass(frozen=True)
class Entry:
    """One lexicon entry as matching and speaking see it."""

    text: str
    respelling: str = ""
    phonemes: str = ""
    case_sensitive: bool = False
    whole_word: bool = True


@dataclass(frozen=True)
class Applied:
    """What a Part is rendered with for one entry: ``say`` is a respelling, or phonemes when ``phonemes``."""

    text: str
    say: str
    phonemes: bool
    case_sensitive: bool
    whole_word: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Applied:
        return cls(
            text=str(data["text"]),
            say=str(data["say"]),
            phonemes=bool(data["phonemes"]),
            case_sensitive=bool(data["case_sensitive"]),
            whole_word=bool(data["whole_word"]),
        )


# ------------------------------------------------------------------ checks
#
# Each rule is stated so that a JSON Schema can say it exactly (the API's
# schema does): lengths are of the text as sent, "has a letter" is the
# regular expression ``[^\W_]``, and phonemes are symbols from a set.

_SPACE = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W_]")
LETTER_PATTERN = _LETTER.pattern
# Characters IPA is written with: Latin and Greek letters (lower case or small
# capitals), modifier letters (ˈ ˌ ː ʰ), combining marks (̃ ̩ ͡), and the
# separators space, "." (syllable) and "|" "‖" (groups).
_IPA_NAMES = ("LATIN SMALL", "LATIN LETTER", "GREEK SMALL", "MODIFIER LETTER", "COMBINING")
_IPA_MARKS = frozenset(" .|‖↓↑")
_ENCLOSING = {("/", "/"), ("[", "]")}


def is_ipa_symbol(char: str) -> bool:
    if char in _IPA_MARKS:
        return True
    name = unicodedata.name(char, "")
    return name.startswith(_IPA_NAMES) and not name.startswith("LATIN CAPITAL")


def is_sound(char: str) -> bool:
    """A symbol that is a sound itself, not a mark on one (stress, length, a diacritic)."""
    return unicodedata.category(char) in {"Ll", "Lo"}


def clean_text(text: str) -> str:
    """An entry's word or phrase, spaces collapsed; ``EmptyEntry`` or ``EntryTooLong``."""
    text = text or ""
    if len(text) > MAX_TEXT_CHARS:
        raise EntryTooLong(f"A word or phrase can be at most {MAX_TEXT_CHARS} characters long.")
    if not _LETTER.search(text):
        raise EmptyEntry("An entry needs a word or phrase to match: at least one letter or digit.")
    return _SPACE.sub(" ", text).strip()


def clean_respelling(respelling: str) -> str:
    """Spaces collapsed; it goes through the normaliser like the text it replaces."""
    respelling = respelling or ""
    if len(respelling) > MAX_RESPELLING_CHARS:
        raise EntryTooLong(f"A respelling can be at most {MAX_RESPELLING_CHARS} characters long.")
    return _SPACE.sub(" ", respelling).strip()


def clean_phonemes(phonemes: str) -> str:
    """IPA as the voice's phonemizer writes it, each symbol one character; ``InvalidPhonemes``.

    One pair of enclosing slashes or brackets, the way IPA is usually
    quoted ("/kwiːkweɡ/"), is dropped, and so are spaces around it. Only
    plain spaces separate words: a tab is not a phoneme.
    """
    phonemes = phonemes or ""
    if len(phonemes) > MAX_PHONEMES:
        raise EntryTooLong(f"Phonemes can be at most {MAX_PHONEMES} symbols long.")
    phonemes = phonemes.strip(" ")
    if len(phonemes) >= 2 and (phonemes[0], phonemes[-1]) in _ENCLOSING:
        phonemes = phonemes[1:-1]
    phonemes = re.sub(" +", " ", phonemes).strip(" ")
    if not phonemes:
        return ""
    for char in phonemes:
        if not is_ipa_symbol(char):
            raise InvalidPhonemes(f"“{char}” is not an IPA symbol. Write phonemes in IPA, e.g. kwˈiːkwɛɡ.")
    if not any(is_sound(char) for char in phonemes):
        raise InvalidPhonemes("Phonemes need at least one sound, not only stress or length marks.")
    return phonemes


def phonemes_pattern(symbols: Iterable[str]) -> str:
    """A regular expression for the phonemes ``clean_phonemes`` and ``check_sayable`` accept for a voice."""
    allowed = sorted(char for char in symbols if len(char) == 1 and is_ipa_symbol(char))
    sounds = [char for char in allowed if is_sound(char)]
    every = "[" + "".join(re.escape(char) for char in allowed) + "]*"
    word = every + "[" + "".join(re.escape(char) for char in sounds) + "]" + every
    return f"^(?:{word}| */{word}/ *| *\\[{word}\\] *)$"


def check_entry(entry: Entry) -> None:
    if not entry.respelling and not entry.phonemes:
        raise EmptyEntry(f"Say how to pronounce “{entry.text}”: give a respelling or phonemes.")


def unsayable(phonemes: str, symbols: Iterable[str]) -> list[str]:
    """The symbols of ``phonemes`` a voice has no id for, in order, once each."""
    known = set(symbols)
    missing: list[str] = []
    for char in phonemes:
        if char not in known and char not in missing:
            missing.append(char)
    return missing


def check_sayable(entry: Entry, *, symbols: Iterable[str] | None, voice_name: str) -> None:
    """``UnsayablePhonemes`` when the voice has no id for one of the entry's symbols."""
    if not entry.phonemes or symbols is None:
        return
    missing = unsayable(entry.phonemes, symbols)
    if missing:
        shown = " ".join(f"“{char}” (U+{ord(char):04X})" for char in missing)
        raise UnsayablePhonemes(
            f"The voice {voice_name} cannot say {shown} in the phonemes for “{entry.text}”."
        )


# ---------------------------------------------------------------- matching


def pattern(*, text: str, case_sensitive: bool, whole_word: bool) -> str:
    """A regular expression for the entry's text; spaces in a phrase match any run of space."""
    body = r"\s+".join(re.escape(word) for word in text.split(" "))
    if whole_word:
        body = rf"(?<!\w){body}(?!\w)"
    return body if case_sensitive else f"(?i:{body})"


def _matcher(entries: Sequence[Entry] | Sequence[Applied]) -> re.Pattern[str] | None:
    if not entries:
        return None
    # Longest first, so "Captain Ahab" wins over "Ahab" where both match.
    order = sorted(range(len(entries)), key=lambda i: -len(entries[i].text))
    alternatives = (
        "(?P<e{}>{})".format(
            i,
            pattern(
                text=entries[i].text,
                case_sensitive=entries[i].case_sensitive,
                whole_word=entries[i].whole_word,
            ),
        )
        for i in order
    )
    return re.compile("|".join(alternatives))


_WORDS = re.compile(r"\w+")


def entries_touching(entries: Sequence[Entry], *texts: str) -> list[Entry]:
    """The entries that change one of ``texts``, in a stable order, so a cache key can hold them.

    Only an entry that actually replaces something counts: one whose match is
    always taken by a longer entry leaves the text as it was. Entries whose
    first word (or, matched inside words, whose text) is nowhere in the
    texts are passed over before any regular expression runs, so a reader's
    thousands of entries cost a set lookup each per Part.
    """
    folded = " ".join(texts).casefold()
    words = set(_WORDS.findall(folded))
    candidates = [
        entry
        for entry in entries
        if (
            (first[0] in words if (first := _WORDS.findall(entry.text.casefold())) else False)
            if entry.whole_word
            else entry.text.casefold() in folded
        )
    ]
    matcher = _matcher(candidates)
    if matcher is None:
        return []
    used: set[int] = set()
    for text in texts:
        for match in matcher.finditer(text):
            used.add(int(str(match.lastgroup)[1:]))
    touching = [candidates[i] for i in used]
    return sorted(touching, key=lambda e: (e.text, e.case_sensitive, e.whole_word, e.respelling, e.phonemes))


def applied_for(entry: Entry, *, takes_phonemes: bool, voice_name: str) -> Applied:
    """What the engine is given for ``entry``: its phonemes where it takes them, else its respelling."""
    if entry.phonemes and takes_phonemes:
        say, phonemes = entry.phonemes, True
    elif entry.respelling:
        say, phonemes = entry.respelling, False
    else:
        raise PhonemesNotSupported(
            f"The voice {voice_name} cannot take phonemes, and the entry for “{entry.text}” has only "
            "phonemes. Give it a respelling too, or choose a Piper voice."
        )
    return Applied(
        text=entry.text,
        say=say,
        phonemes=phonemes,
        case_sensitive=entry.case_sensitive,
        whole_word=entry.whole_word,
    )


# ---------------------------------------------------------------- speaking


class Lexicon:
    """The entries a text is spoken with: ``before`` the normaliser, then ``after`` it, per chunk."""

    def __init__(self, applied: Sequence[Applied]) -> None:
        if len(applied) > _MAX_ENTRIES_PER_TEXT:
            raise ValueError(f"at most {_MAX_ENTRIES_PER_TEXT} entries can touch one text")
        self.applied = list(applied)
        self._matcher = _matcher(self.applied)

    @classmethod
    def from_dicts(cls, data: Iterable[dict[str, Any]]) -> Lexicon:
        return cls([Applied.from_dict(item) for item in data])

    def __bool__(self) -> bool:
        return bool(self.applied)

    def before(self, text: str) -> str:
        """Respellings substituted, and each word said by phonemes replaced by its placeholder."""
        if self._matcher is None:
            return text

        def substitute(match: re.Match[str]) -> str:
            index = int(str(match.lastgroup)[1:])
            entry = self.applied[index]
            if not entry.phonemes:
                return entry.say
            # As long as the block it becomes, so chunks are cut to the length the engine gets.
            first = match.group(0)[0]
            token = (first if first.isalpha() else "") + _MARK + chr(_INDEX_BASE + index)
            return token + _PAD * (len(block(entry.say)) - len(token))

        return self._matcher.sub(substitute, text)

    def after(self, chunk: str) -> str:
        """Each placeholder in a normalised chunk as its inline phoneme block."""
        if self._matcher is None:
            return chunk
        chunk = _PLACEHOLDER.sub(lambda m: block(self.applied[ord(m.group(1)) - _INDEX_BASE].say), chunk)
        # Only a match inside a longer word can be cut by chunking; its padding says nothing.
        return chunk.replace(_PAD, "")


def block(phonemes: str) -> str:
    """piper-tts's inline phoneme block: its characters go to ``phoneme_id_map`` one by one."""
    return f"[[{phonemes}]]"


def has_placeholder(text: str) -> bool:
    return _MARK in text
