"""Clean prose for the speech engine: one paragraph per blank-line-separated block.

Only typography is normalised here. Turning numbers and abbreviations into words is
the speech engine's job, because it knows the language and the voice.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Invisible characters that only steer line breaking or glyph joining in print.
# ZWJ/ZWNJ stay: Persian, Hindi and emoji need them.
_DROP = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff\u180e\u200e\u200f"), None)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A word broken at a line end: "exam-\nple". Hyphen, Unicode hyphen, or the print "¬".
_BROKEN_WORD = re.compile(r"(\w+)[-\u2010¬][ \t]*\n[ \t]*(\w+)")
_WORD = re.compile(r"\w+(?:[-\u2010]\w+)*")


def clean_paragraph(text: str) -> str:
    """Normalise one paragraph: NFC, no invisible marks, single spaces, and single
    newlines only where the source broke a line on purpose (verse, addresses)."""
    text = unicodedata.normalize("NFC", text).translate(_DROP)
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    cleaned = (clean_paragraph(paragraph) for paragraph in paragraphs)
    return "\n\n".join(paragraph for paragraph in cleaned if paragraph)


def count_words(text: str) -> int:
    """Whitespace-separated tokens holding at least one letter or digit."""
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


def vocabulary(text: str) -> tuple[set[str], set[str]]:
    """The words of a text and its hyphenated compounds, lower-cased, for `join_broken_words`."""
    words: set[str] = set()
    compounds: set[str] = set()
    for match in _WORD.finditer(text.lower()):
        token = match.group(0)
        (compounds if "-" in token or "\u2010" in token else words).add(token)
    return words, compounds


def join_broken_words(text: str, words: set[str], compounds: set[str]) -> str:
    """Join words hyphenated across a line break.

    "exam-\\nple" becomes "example"; "well-\\nknown" stays "well-known" when the text
    elsewhere writes "well-known" and never "wellknown". Without such evidence the
    parts are joined, which is what a typesetter's hyphenation almost always means.
    """

    def mend(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if not (left[-1].isalpha() and right[0].islower()):
            return f"{left}-{right}"  # "Anglo-\nSaxon", "1890-\n1900": a real hyphen
        joined = (left + right).lower()
        compound = f"{left}-{right}".lower()
        if compound in compounds and joined not in words:
            return f"{left}-{right}"
        return left + right

    return _BROKEN_WORD.sub(mend, text)
