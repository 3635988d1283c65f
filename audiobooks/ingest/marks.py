"""Chapters from headings found in the text itself: TXT, PDF without an outline, HTML.

Works on the spool's numbers (each short block's heading shape was noted when it was
stored); only the headings kept are read back for their titles.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate

from .chapters import Entry
from .errors import ErrorCode, IngestError
from .headings import is_subtitle
from .spool import BlockKind, BlockSpool

# Headings with less text than this before the next one are a printed contents
# list ("Chapter 1 ... 5"), not chapters.
MIN_CHAPTER_WORDS = 40
# More headings than this is not a book to listen to; refused before titles are read.
MAX_HEADINGS = 100_000
_NONZERO = re.compile(rb"[^\x00]")


@dataclass(frozen=True)
class Mark:
    block: int
    rank: int
    title: str = ""


def find_marks(spool: BlockSpool, start: int = 0, end: int | None = None) -> list[Mark]:
    """Heading-shaped blocks in start..end-1 that prose follows, titled; a short title
    line after a bare heading ("CHAPTER I" / "A Scandal in Bohemia") is folded in."""
    end = len(spool) if end is None else end
    ranks = spool.ranks
    candidates = [
        (start + match.start(), ranks[start + match.start()])
        for match in _NONZERO.finditer(bytes(ranks[start:end]))
        if spool.kinds[start + match.start()] != BlockKind.HIDDEN
    ]
    kept = _drop_contents_lists(spool, candidates, start, end)
    _check_count(len(kept))
    marks = []
    for block, rank in kept:
        title = spool.text(block).strip()
        following = spool.text(block + 1).strip() if block + 1 < end and not ranks[block + 1] else ""
        if is_subtitle(title, following):
            title = f"{title.rstrip('.:')}: {following.rstrip('.')}"
        marks.append(Mark(block, rank, title))
    return marks


def dropped_candidates(spool: BlockSpool, marks: list[Mark], start: int, end: int) -> bool:
    """Whether start..end-1 holds heading-shaped lines that were not kept (a contents list)."""
    kept = {mark.block for mark in marks}
    return any(
        start + match.start() not in kept for match in _NONZERO.finditer(bytes(spool.ranks[start:end]))
    )


def _drop_contents_lists(
    spool: BlockSpool, candidates: list[tuple[int, int]], start: int, end: int
) -> list[tuple[int, int]]:
    """Keep a heading only if prose follows it before the next heading of its rank or
    higher. A printed contents list is all headings and no prose, so it goes."""
    words = array("I", spool.words[start:end])
    for block, _rank in candidates:
        words[block - start] = 0
    prose_before = array("Q", accumulate(words, initial=0))
    nearest = dict.fromkeys((1, 2, 3), end)  # the nearest later heading of each rank
    kept = []
    for block, rank in reversed(candidates):
        stop = min(nearest[other] for other in nearest if other <= rank)
        if prose_before[stop - start] - prose_before[block + 1 - start] >= MIN_CHAPTER_WORDS:
            kept.append((block, rank))
        nearest[rank] = block
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


def mark_headings(spool: BlockSpool, marks: list[Mark]) -> None:
    """Flag detected headings as headings, so titles and cuts can find them."""
    for mark in marks:
        spool.kinds[mark.block] = BlockKind.HEADING
        spool.levels[mark.block] = 1


def tag_heading_entries(spool: BlockSpool, unit: int = 0) -> list[Entry]:
    """Entries from <h1>-<h6>. The top level is the highest heading level used at least
    twice: a lone <h1> is the book's title, not its only chapter."""
    kinds, levels = spool.kinds, spool.levels
    headings = [match.start() for match in re.finditer(rb"\x01", bytes(kinds))]
    counts = Counter(levels[index] for index in headings)
    repeated = sorted(level for level, count in counts.items() if count >= 2)
    if not repeated:
        return []
    top = repeated[0]
    chosen = [index for index in headings if top <= levels[index] <= top + 1]
    first_top = next(position for position, index in enumerate(chosen) if levels[index] == top)
    chosen = chosen[first_top:]
    _check_count(len(chosen))
    marks = [Mark(index, levels[index], " ".join(spool.text(index).split())) for index in chosen]
    return nest(marks, unit)


def _check_count(count: int) -> None:
    if count > MAX_HEADINGS:
        raise IngestError(
            ErrorCode.TOO_MANY_CHAPTERS,
            f"This book has {count:,} chapter headings; we read books of up to {MAX_HEADINGS:,} "
            "headings, so that choosing among them stays possible. Please split it into several books.",
        )
