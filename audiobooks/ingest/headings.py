"""Find chapter headings in text that has no table of contents (TXT, PDF, plain HTML).

A heading is a short line of its own: "Chapter 1", "CHAPTER IV. THE RED CIRCLE",
"Part One", "Book the Second", "Prologue", or a bare Roman numeral "XII". Numbers
written as words and Roman numerals are kept as written in the chapter text;
saying them is the speech engine's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .blocks import Block, BlockKind
from .chapters import Entry
from .cleaning import count_words

MAX_HEADING_CHARS = 80
# Headings with less text than this before the next one are a printed contents
# list ("Chapter 1 ... 5"), not chapters.
MIN_CHAPTER_WORDS = 40

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


@dataclass(frozen=True)
class Mark:
    block: int
    rank: int
    title: str


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


def find_marks(blocks: list[Block]) -> list[Mark]:
    """Heading blocks, with a short title line that follows a bare heading folded in."""
    marks = []
    for index, block in enumerate(blocks):
        rank = heading_rank(block.text)
        if rank is None:
            continue
        title = block.text.strip()
        following = blocks[index + 1].text.strip() if index + 1 < len(blocks) else ""
        if _is_subtitle(title, following):
            title = f"{title.rstrip('.:')}: {following.rstrip('.')}"
        marks.append(Mark(index, rank, title))
    return _drop_contents_lists(marks, blocks)


def _is_subtitle(heading: str, line: str) -> bool:
    bare = _NUMBERED.match(heading)
    if not line or len(line) > 60 or "\n" in line or heading_rank(line) is not None:
        return False
    if bare is not None and bare.group("rest"):
        return False  # the heading carries its own title already
    return line[0].isupper() and not line.endswith(("!", "?", ",", ";", "”", '"')) and len(line.split()) <= 10


def _drop_contents_lists(marks: list[Mark], blocks: list[Block]) -> list[Mark]:
    """Keep a heading only if prose follows it before the next heading of its rank or
    higher. A printed contents list is all headings and no prose, so it goes."""
    heading_blocks = {mark.block for mark in marks}
    prose_before = [0]  # prose words in blocks[:i], headings not counted
    for index, block in enumerate(blocks):
        prose_before.append(prose_before[-1] + (0 if index in heading_blocks else count_words(block.text)))
    # Walk backwards, remembering the nearest later heading of each rank.
    nearest = {rank: len(blocks) for rank in (1, 2, 3)}
    kept = []
    for mark in reversed(marks):
        end = min(nearest[rank] for rank in nearest if rank <= mark.rank)
        if prose_before[end] - prose_before[mark.block + 1] >= MIN_CHAPTER_WORDS:
            kept.append(mark)
        nearest[mark.rank] = mark.block
    return kept[::-1]


def nest(marks: list[Mark], unit: int = 0) -> list[Entry]:
    """Entries nested by rank: books hold parts, parts hold chapters."""
    top: list[Entry] = []
    stack: list[tuple[int, Entry]] = []
    for mark in marks:
        entry = Entry(mark.title, unit, mark.block)
        while stack and stack[-1][0] >= mark.rank:
            stack.pop()
        (stack[-1][1].children if stack else top).append(entry)
        stack.append((mark.rank, entry))
    return top


def mark_headings(blocks: list[Block], marks: list[Mark]) -> list[Block]:
    """The same blocks, with detected headings flagged as such."""
    heading_at = {mark.block for mark in marks}
    return [
        Block(block.text, BlockKind.HEADING, 1) if index in heading_at else block
        for index, block in enumerate(blocks)
    ]
