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
_DROP = re.compile("[\u00ad\u200b\u2060\ufeff\u180e\u200e\u200f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A word broken at a line end: "exam-\nple". Hyphen, Unicode hyphen, or the print "¬".
_BROKEN_WORD = re.compile(r"(\w+)[-\u2010¬][ \t]*\n[ \t]*(\w+)")
_WORD = re.compile(r"\w+(?:[-\u2010]\w+)*")
# A whitespace-separated token with no letter or digit in it ("—", "***", "…"), matched
# with the space before it (the text is padded with spaces to match at its ends).
_WORDLESS_TOKEN = re.compile(r"\s(?:[^\w\s]|_)+(?=\s)")
# A word broken at a line end exists only where a line ends with one of these.
_BROKEN_HINT = re.compile(r"[-\u2010¬][ \t]*\n")
# Where a sentence ends: its mark, any closing quotes or brackets, then a space (or, in
# scripts written without spaces, nothing).
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s+|[。！？][」』”’）]*")
_SPACE = re.compile(r"\s")
# Distinct words remembered for mending hyphenation: a real book uses tens of thousands.
MAX_VOCABULARY = 500_000


def clean_paragraph(text: str) -> str:
    """Normalise one paragraph: NFC, no invisible marks, single spaces, and single
    newlines only where the source broke a line on purpose (verse, addresses)."""
    text = unicodedata.normalize("NFC", text)
    if text.isprintable() and "  " not in text:
        # Nothing but single spaces between words, and nothing to drop: the usual case,
        # checked at C speed before the slower general path.
        return text.strip(" ")
    text = _DROP.sub("", text)
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    cleaned = (clean_paragraph(paragraph) for paragraph in paragraphs)
    return "\n\n".join(paragraph for paragraph in cleaned if paragraph)


def count_words(text: str) -> int:
    """Whitespace-separated tokens holding at least one letter or digit."""
    return len(text.split()) - len(_WORDLESS_TOKEN.findall(f" {text} "))


def count_clean_words(text: str) -> int:
    """`count_words` for text `clean_paragraph` made: single spaces and newlines between
    tokens, so they can be counted without splitting."""
    if not text:
        return 0
    return text.count(" ") + text.count("\n") + 1 - len(_WORDLESS_TOKEN.findall(f" {text} "))


def cut_point(text: str, limit: int) -> tuple[int, int]:
    """Where to cut `text` so the first piece has at most `limit` characters: after the
    last sentence in the second half of that span, else at its last space, else at the
    limit itself. Returns (end of the first piece, start of the second)."""
    floor = limit // 2
    ends = [match.end() for match in _SENTENCE_END.finditer(text, floor, limit + 1)]
    if ends:
        cut = ends[-1]
        return len(text[:cut].rstrip()), cut
    for index in range(limit, floor, -1):
        if _SPACE.match(text, index):
            return index, index + 1
    return limit, limit


class Vocabulary:
    """The words of a text and its hyphenated compounds, lower-cased, for `join_broken_words`.

    Fed piece by piece; it stops learning new words past `MAX_VOCABULARY` (a hostile
    file of random tokens must not fill memory), which only makes mending guess more.
    """

    def __init__(self) -> None:
        self.words: set[str] = set()
        self.compounds: set[str] = set()

    def add(self, text: str) -> None:
        if len(self.words) + len(self.compounds) >= MAX_VOCABULARY:
            return
        # Splitting and deduplicating at C speed first leaves few tokens to look into.
        for token in set(text.lower().split()) - self.words:
            for word in _WORD.findall(token):
                (self.compounds if "-" in word or "\u2010" in word else self.words).add(word)

    def mend(self, text: str) -> str:
        return join_broken_words(text, self.words, self.compounds)


def vocabulary(text: str) -> tuple[set[str], set[str]]:
    """The words of a text and its hyphenated compounds, lower-cased, for `join_broken_words`."""
    found = Vocabulary()
    found.add(text)
    return found.words, found.compounds


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

    if not _BROKEN_HINT.search(text):
        return text
    return _BROKEN_WORD.sub(mend, text)
