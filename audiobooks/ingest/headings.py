"""What a chapter heading looks like in text that has no table of contents (TXT, PDF, plain HTML).

A heading is a short line of its own: "Chapter 1", "CHAPTER IV. THE RED CIRCLE",
"Part One", "Book the Second", "Prologue", or a bare Roman numeral "XII". Numbers
written as words and Roman numerals are kept as written in the chapter text;
saying them is the speech engine's business.
"""

from __future__ import annotations

import re

MAX_HEADING_CHARS = 80

_UNITS = (
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
)
_ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "last",
)
_WORD_NUMBER = rf"(?:{'|'.join(_UNITS)})(?:[- ](?:{'|'.join(_UNITS)}))?"
_ORDINAL = rf"(?:the\s+)?(?:{'|'.join(_ORDINALS)})"
_ROMAN = r"(?=[MDCLXVI])M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_NUMBER = rf"(?:\d{{1,4}}|{_ROMAN}|{_WORD_NUMBER}|{_ORDINAL})"

# Rank: 1 contains 2 contains 3.
_LABELS = {
    "volume": 1, "vol.": 1, "book": 1,
    "part": 2,
    "chapter": 3, "chap.": 3, "section": 3, "act": 3, "canto": 3, "stave": 3, "letter": 3,
}  # fmt: skip
_NUMBERED = re.compile(
    rf"^(?P<label>{'|'.join(re.escape(label) for label in _LABELS)})\s+(?P<number>{_NUMBER})"
    r"(?:\s*[.:—–-]\s*|\s+|$)(?P<rest>.*)$",
    re.IGNORECASE,
)
_NAMED = re.compile(
    r"^(?:prologue|epilogue|preface|foreword|introduction|afterword|interlude|postscript)\b[.:]?.{0,40}$",
    re.IGNORECASE,
)
_BARE_ROMAN = re.compile(rf"^{_ROMAN}\.?$")


def heading_rank(line: str) -> int | None:
    """1-3 when the line is a chapter-like heading, None otherwise."""
    line = line.strip()
    if not line or len(line) > MAX_HEADING_CHARS or "\n" in line:
        return None
    match = _NUMBERED.match(line)
    if match:
        rest = match.group("rest")
        # "Chapter 3 was the best" is prose; a heading's remainder is a title, if anything.
        if rest and (rest[0].islower() or rest.rstrip().endswith((",", ";"))):
            return None
        return _LABELS[match.group("label").lower()]
    if line[0].isupper() and _NAMED.match(line):
        return 3
    if _BARE_ROMAN.match(line):
        return 3
    return None


def is_subtitle(heading: str, line: str) -> bool:
    """True when `line` is the title that completes a bare heading ("CHAPTER I" / "A Scandal")."""
    bare = _NUMBERED.match(heading)
    if not line or len(line) > 60 or "\n" in line or heading_rank(line) is not None:
        return False
    if bare is not None and bare.group("rest"):
        return False  # the heading carries its own title already
    return line[0].isupper() and not line.endswith(("!", "?", ",", ";", "”", '"')) and len(line.split()) <= 10
