"""Text for speech, pluggable by language.

Each language's module is a dotted path imported on first use, like the
engine registry. It offers ``normalise`` (what an engine should say for a
sentence or a heading) and ``is_heading`` (whether a paragraph heads a section
rather than telling the story). A language without one gets the
language-neutral clean-up, and bare section numbers as its only headings.
"""

from __future__ import annotations

import functools
import importlib
import re
from types import ModuleType
from typing import Protocol

NORMALISER_VERSION = 2
"""Part of the render-cache key: bump it whenever what is said for a text changes.

That is any normaliser's output, and ``tts_engine.speech.plan_speech``'s:
which paragraphs are headings, and how a chapter's title meets its heading.
"""

NORMALISERS: dict[str, str] = {
    "en": "tts_engine.text.english",
}
FALLBACK = "tts_engine.text.common"
_WORD = re.compile(r"[^\W_]+")


class Normaliser(Protocol):
    def __call__(self, text: str, *, heading: bool = False) -> str: ...


def primary_language(tag: str) -> str:
    """``"en_US"``, ``"en-gb"`` and ``"EN"`` all give ``"en"``; empty gives ``""``."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


@functools.cache
def _language_module(language: str) -> ModuleType:
    return importlib.import_module(NORMALISERS.get(primary_language(language), FALLBACK))


def normaliser_for(language: str) -> Normaliser:
    function: Normaliser = _language_module(language).normalise
    return function


def normalise(text: str, language: str = "en", *, heading: bool = False) -> str:
    """What an engine should say for ``text``, one sentence or a heading."""
    return normaliser_for(language)(text, heading=heading)


def is_heading(paragraph: str, language: str = "en") -> bool:
    """Whether ``paragraph`` heads a section ("II", "Chapter XLII", "Act I, Scene 2")."""
    return bool(_language_module(language).is_heading(paragraph))


def heading_words(text: str, language: str = "en") -> tuple[str, ...]:
    """The words said for a heading, to compare two headings by.

    Case, punctuation and the way a number is written drop out: "Chapter 1.",
    "CHAPTER I" and "Chapter One" all give ``("chapter", "one")``.
    """
    spoken = normalise(text, language, heading=True).lower().replace("'", "")
    return tuple(_WORD.findall(spoken))


def languages_differ(voice_language: str, book_language: str) -> bool:
    """True when a voice would read a book in another language.

    Only the primary subtag counts: an en-US voice reads an en-GB book. A book
    whose language is unknown differs from nothing.
    """
    book = primary_language(book_language)
    return bool(book) and book not in {"und", "mul"} and primary_language(voice_language) != book


def language_warning(voice_language: str, book_language: str) -> str | None:
    """A sentence to show before a conversion starts, or None when all is well."""
    if not languages_differ(voice_language, book_language):
        return None
    return (
        f"This voice speaks {voice_language}, but the book is in {book_language}: "
        "it will read the text with the wrong pronunciation."
    )


__all__ = [
    "NORMALISER_VERSION",
    "Normaliser",
    "heading_words",
    "is_heading",
    "language_warning",
    "languages_differ",
    "normalise",
    "normaliser_for",
    "primary_language",
]
