"""A chapter's opening as a narrator reads it: the title said once, however the book writes its heading.

The pipeline announces each chapter's title (from the table of contents)
before its first Part, and most books open the chapter's text with the same
heading in their own words: "A Scandal in Bohemia" twice, or "Chapter 1.
Loomings." against "CHAPTER I" and "Loomings". When the text's leading short
paragraphs say the title, or the title says them, they are one announcement,
in the fuller of the two wordings. Headings are compared as they are said
(``tts_engine.text.heading_words``), so case, punctuation and "1", "I" or
"One" make no difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, takewhile

from tts_engine.text import heading_words

OPENING_MAX_PARAGRAPHS = 3
OPENING_MAX_CHARS = 100
_QUOTE_MARKS = "\"'“‘«„"
_END_MARKS = ".:;!?"


@dataclass(frozen=True)
class Opening:
    announcement: str
    """The words to announce, as written: the title, or the text's own heading when that says more."""
    consumed: int
    """How many leading paragraphs of the text the announcement stands for."""


def chapter_opening(title: str, paragraphs: Sequence[str], language: str) -> Opening:
    """The announcement for a chapter titled ``title`` whose text opens with ``paragraphs``."""
    title = title.strip()
    said = heading_words(title, language)
    leading = list(takewhile(_may_be_heading, paragraphs[:OPENING_MAX_PARAGRAPHS]))
    words = [heading_words(paragraph, language) for paragraph in leading]

    def heading(count: int) -> tuple[str, ...]:
        return tuple(chain.from_iterable(words[:count]))

    counts = range(1, len(leading) + 1) if said else range(0)
    # The title holds the heading ("Chapter 1. Loomings." over "Chapter 1", "Loomings"): all it holds.
    held = [count for count in counts if _begins_or_ends(heading(count), said)]
    # The heading holds the title ("Loomings" under "CHAPTER 1", "Loomings"): the fewest paragraphs that do.
    holding = [count for count in counts if _begins_or_ends(said, heading(count))]
    count = max(held) if held else min(holding, default=0)
    if not count:
        return Opening(title, 0)
    fuller = len(heading(count)) > len(said)
    return Opening(_sentence(leading[:count]) if fuller else title, count)


def _may_be_heading(paragraph: str) -> bool:
    return len(paragraph) <= OPENING_MAX_CHARS and not paragraph.startswith(tuple(_QUOTE_MARKS))


def _begins_or_ends(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    """``part`` is the first or the last words of ``whole``."""
    size = len(part)
    return 0 < size <= len(whole) and (whole[:size] == part or whole[-size:] == part)


def _sentence(paragraphs: Sequence[str]) -> str:
    """Heading lines as one: "CHAPTER 1", "Loomings" gives "CHAPTER 1. Loomings"."""
    lines = [paragraph.strip() for paragraph in paragraphs]
    return " ".join(
        [*(line if line.endswith(tuple(_END_MARKS)) else f"{line}." for line in lines[:-1]), lines[-1]]
    )
