"""Text for speech, pluggable by language.

Each language's normaliser is a dotted path imported on first use, like the
engine registry. A language without one gets the language-neutral clean-up.
"""

from __future__ import annotations

import functools
import importlib
from typing import Protocol

NORMALISER_VERSION = 1
"""Part of the render-cache key: bump it whenever any normaliser's output changes."""

NORMALISERS: dict[str, str] = {
    "en": "tts_engine.text.english.normalise",
}
FALLBACK = "tts_engine.text.common.normalise"


class Normaliser(Protocol):
    def __call__(self, text: str, *, heading: bool = False) -> str: ...


def primary_language(tag: str) -> str:
    """``"en_US"``, ``"en-gb"`` and ``"EN"`` all give ``"en"``; empty gives ``""``."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


@functools.cache
def normaliser_for(language: str) -> Normaliser:
    module_name, _, attribute = NORMALISERS.get(primary_language(language), FALLBACK).rpartition(".")
    function: Normaliser = getattr(importlib.import_module(module_name), attribute)
    return function


def normalise(text: str, language: str = "en", *, heading: bool = False) -> str:
    """What an engine should say for ``text``, one sentence or a heading."""
    return normaliser_for(language)(text, heading=heading)


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
    "language_warning",
    "languages_differ",
    "normalise",
    "normaliser_for",
    "primary_language",
]
