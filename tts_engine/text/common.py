"""Language-neutral clean-up, so punctuation never trips an engine.

Piper's phonemizer (espeak-ng) runs words together across an ellipsis or a
spaced double hyphen, reads ``*`` as "asterisk", and says nothing for a pair of
brackets. Everything here turns such marks into plain commas and full stops,
which every engine renders as a short pause.

Also the fallback for languages without a module of their own: Roman
numerals, and the one kind of heading every language shares, a paragraph that
is only a section number.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_DOUBLE_QUOTES = re.compile(r"[\"“”„‟«»〝〞＂]")
_SINGLE_QUOTES = re.compile(r"[‘’‚‛′`´]")
# A quote mark that is not an apostrophe inside a word (don't, dog's).
_STRAY_APOSTROPHE = re.compile(r"(?<![^\W\d_])'|'(?![^\W\d_])")
_ELLIPSIS = re.compile(r"(?:…|\.\s?\.\s?\.)(?:\s?\.)*")
_DASH = re.compile(r"\s*(?:[—―]|--+|\s[–-]\s)\s*")
_FOOTNOTE = re.compile(r"\[\s*(?:\d+|[a-z]|[*†‡§]+)\s*\]")
_OPEN = re.compile(r"\s*[(\[{]\s*")
_CLOSE = re.compile(r"\s*[)\]}]")
_DROP = re.compile(r"[*_|^<>\\~#]")
_SPACE_BEFORE_MARK = re.compile(r"\s+([,.;:!?])")
_COMMA_RUN = re.compile(r"(?:\s*,)+")
_MARK_AFTER_COMMA = re.compile(r",\s*([.;:!?])")
_MARK_RUN = re.compile(r"([.;:!?])[.;:!?,]+")
_LEADING_MARKS = re.compile(r"^[\s,.;:]+")


def clean(text: str) -> str:
    """Normalise Unicode, quotes, dashes, ellipses, brackets and spacing."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = _DOUBLE_QUOTES.sub(" ", text)
    text = _SINGLE_QUOTES.sub("'", text)
    text = _STRAY_APOSTROPHE.sub(" ", text)
    text = _ELLIPSIS.sub(", ", text)
    text = _DASH.sub(", ", text)
    text = text.replace("–", "-")  # an unspaced en dash joins words like a hyphen
    text = _FOOTNOTE.sub("", text)
    text = _OPEN.sub(", ", text)
    text = _CLOSE.sub(",", text)
    return text


def tidy(text: str) -> str:
    """Collapse what ``clean`` and the language passes left behind."""
    text = _DROP.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_MARK.sub(r"\1", text)
    text = _COMMA_RUN.sub(",", text)
    text = _MARK_AFTER_COMMA.sub(r"\1", text)
    text = _MARK_RUN.sub(r"\1", text)
    text = _LEADING_MARKS.sub("", text)
    text = re.sub(r",(?=\S)", ", ", text).strip()
    # A sentence that ended on an ellipsis or a dash ends on a comma now.
    return text[:-1] + "." if text.endswith(",") else text


def normalise(text: str, *, heading: bool = False) -> str:
    """The fallback for languages without a normaliser of their own."""
    return tidy(clean(text))


# ---------------------------------------------------------- Roman numerals

_ROMAN = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_BARE_NUMBER = re.compile(r"^\s*([IVXLCDM]+|\d{1,4})\s*[.:]?\s*$")


def roman_value(numeral: str) -> int | None:
    """The value of a well-formed Roman numeral in either case; None for anything else."""
    numeral = numeral.upper()
    if not numeral or not _ROMAN.match(numeral):
        return None
    total = 0
    for current, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _ROMAN_VALUES[current]
        total += -value if following and _ROMAN_VALUES[following] > value else value
    return total


def bare_section_number(paragraph: str) -> bool:
    """A paragraph that is only a section number: "II", "XLII.", "3"."""
    match = _BARE_NUMBER.match(paragraph)
    return match is not None and (match.group(1).isdigit() or roman_value(match.group(1)) is not None)


def is_heading(paragraph: str) -> bool:
    """The fallback's headings: bare section numbers only."""
    return bare_section_number(paragraph)
