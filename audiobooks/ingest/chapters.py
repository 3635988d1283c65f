"""Cut a book's paragraphs into chapters a listener can use.

Every format ends here: a list of documents already reduced to blocks, and the
table-of-contents entries (or detected headings) pointing into them. The rules:

* a chapter runs from its entry to the next top-level entry, so text no entry
  covers stays with the chapter before it and nothing is lost;
* nested entries stay inside their chapter unless it is longer than about two hours
  of speech; then it is split at its children, recursively, "Parent — Child";
* cover, title page, copyright, contents, index, colophon and the like are kept but
  start deselected, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .blocks import Block, BlockKind, DocumentText
from .cleaning import count_words, join_paragraphs
from .types import IngestedChapter

# About two hours of speech at ~14 characters a second.
MAX_CHAPTER_CHARS = 100_000
# Text before a chapter's first child shorter than this (its heading, an epigraph)
# opens the first child instead of becoming a chapter of its own.
INTRO_MERGE_CHARS = 2_000
TITLE_SEPARATOR = " — "
MAX_TITLE_CHARS = 300

# Structural semantics (EPUB 3 SSV, DPUB-ARIA, EPUB 2 guide types) that mark pages
# people don't want read aloud, with the words we show for them.
MATTER_LABELS = {
    "cover": "Cover",
    "doc-cover": "Cover",
    "titlepage": "Title page",
    "title-page": "Title page",
    "halftitlepage": "Half-title page",
    "copyright-page": "Copyright page",
    "imprint": "Imprint",
    "colophon": "Colophon",
    "doc-colophon": "Colophon",
    "toc": "Table of contents",
    "doc-toc": "Table of contents",
    "landmarks": "Landmarks",
    "page-list": "Page list",
    "loi": "List of illustrations",
    "lot": "List of tables",
    "index": "Index",
    "doc-index": "Index",
    "seriespage": "Series page",
    "other-credits": "Credits",
    "doc-credits": "Credits",
    "licence": "Licence",
}
# When a book carries no semantics, its entry titles often say the same.
_TITLE_MATTER = {
    "cover": "Cover",
    "title page": "Title page",
    "titlepage": "Title page",
    "half title": "Half-title page",
    "copyright": "Copyright page",
    "copyright page": "Copyright page",
    "imprint": "Imprint",
    "contents": "Table of contents",
    "table of contents": "Table of contents",
    "index": "Index",
    "colophon": "Colophon",
    "uncopyright": "Licence",
    "licence": "Licence",
    "license": "Licence",
}
_TITLE_NOISE = re.compile(r"[^\w ]+")


@dataclass
class Unit:
    """One source document (an EPUB spine item, or a whole TXT/HTML/PDF file)."""

    doc: DocumentText
    linear: bool = True
    # Semantics that the package's landmarks or guide give the whole document.
    types: set[str] = field(default_factory=set)
    name: str = ""


@dataclass
class Entry:
    """A table-of-contents entry (or detected heading) resolved to a place in the text."""

    title: str
    unit: int
    block: int = 0
    types: set[str] = field(default_factory=set)
    children: list[Entry] = field(default_factory=list)


@dataclass
class _Seed:
    title: str
    start: int
    types: set[str]
    children: list[Entry]
    linear: bool = True


@dataclass
class _Draft:
    title: str
    blocks: list[Block]
    types: set[str]
    linear: bool


class _Layout:
    """All blocks of all units in reading order, addressed by one flat index."""

    def __init__(self, units: list[Unit]) -> None:
        self.units = units
        self.offsets: list[int] = []
        self.blocks: list[Block] = []
        for unit in units:
            self.offsets.append(len(self.blocks))
            self.blocks.extend(unit.doc.blocks)

    def position(self, entry: Entry) -> int:
        return self.offsets[entry.unit] + entry.block

    def chars(self, start: int, end: int) -> int:
        return sum(len(b.text) for b in self.blocks[start:end] if b.kind is not BlockKind.NOTE)


def build_chapters(
    units: list[Unit], entries: list[Entry], *, max_chars: int = MAX_CHAPTER_CHARS
) -> list[IngestedChapter]:
    """Chapters from top-level `entries`; one per unit when there are none."""
    layout = _Layout(units)
    seeds = _seeds(layout, entries) if entries else _unit_seeds(layout)
    seeds.sort(key=lambda seed: seed.start)
    seeds = _merge_same_start(seeds)
    drafts: list[_Draft] = []
    for index, seed in enumerate(seeds):
        end = seeds[index + 1].start if index + 1 < len(seeds) else len(layout.blocks)
        drafts.extend(_split(layout, seed, seed.start, end, max_chars))
    return _finish(drafts)


def _seeds(layout: _Layout, entries: list[Entry]) -> list[_Seed]:
    seeds = [
        _Seed(entry.title, layout.position(entry), _entry_types(layout, entry), entry.children)
        for entry in entries
    ]
    covered = {entry.unit for entry in _walk(entries)}
    previous_was_split_out = False
    for index, unit in enumerate(layout.units):
        if index in covered or not unit.doc.blocks:
            previous_was_split_out = False
            continue
        # An uncovered document joins the chapter before it, except when it is front or
        # back matter, out of the reading order, or follows such a split-out document.
        split_out = not unit.linear or bool(_doc_types(unit) & MATTER_LABELS.keys())
        if split_out or previous_was_split_out:
            seeds.append(_unit_seed(layout, index))
        previous_was_split_out = split_out
    first_start = min(seed.start for seed in seeds)
    if first_start > 0:
        # Text before the first entry (a preface no entry names, or the opening of the
        # document the first entry points into) is a chapter of its own, never lost.
        seeds.append(_front_seed(layout, first_start))
    return seeds


def _front_seed(layout: _Layout, end: int) -> _Seed:
    first = next(index for index, unit in enumerate(layout.units) if unit.doc.blocks)
    unit = layout.units[first]
    heading = next((b.text for b in layout.blocks[:end] if b.kind is BlockKind.HEADING), "")
    title = heading.replace("\n", " ") or unit.doc.title or f"Section {first + 1}"
    return _Seed(title, 0, _doc_types(unit), [], linear=unit.linear)


def _unit_seeds(layout: _Layout) -> list[_Seed]:
    return [_unit_seed(layout, index) for index, unit in enumerate(layout.units) if unit.doc.blocks]


def _unit_seed(layout: _Layout, index: int) -> _Seed:
    unit = layout.units[index]
    title = unit.doc.first_heading or unit.doc.title or f"Section {index + 1}"
    return _Seed(title, layout.offsets[index], _doc_types(unit), [], linear=unit.linear)


def _doc_types(unit: Unit) -> set[str]:
    return unit.doc.types | unit.types


def _entry_types(layout: _Layout, entry: Entry) -> set[str]:
    if entry.block == 0:
        return entry.types | _doc_types(layout.units[entry.unit])
    return entry.types


def _walk(entries: Iterable[Entry]) -> Iterable[Entry]:
    for entry in entries:
        yield entry
        yield from _walk(entry.children)


def _merge_same_start(seeds: list[_Seed]) -> list[_Seed]:
    """Entries pointing at the same place ("Part One", "Chapter 1") become one chapter."""
    merged: list[_Seed] = []
    for seed in seeds:
        if merged and merged[-1].start == seed.start:
            last = merged[-1]
            if seed.title and seed.title != last.title:
                last.title = f"{last.title}{TITLE_SEPARATOR}{seed.title}"
            last.types |= seed.types
            last.children.extend(seed.children)
        else:
            merged.append(_Seed(seed.title, seed.start, set(seed.types), list(seed.children), seed.linear))
    return merged


def _split(layout: _Layout, seed: _Seed, start: int, end: int, max_chars: int) -> list[_Draft]:
    """One draft for the range, or several when it is too long and has places to cut."""
    whole = [_Draft(seed.title, layout.blocks[start:end], seed.types, seed.linear)]
    if layout.chars(start, end) <= max_chars:
        return whole
    children = [child for child in _cut_points(layout, seed, start, end) if start < child.start < end]
    if not children:
        return whole
    children.sort(key=lambda child: child.start)
    children = _merge_same_start(children)
    drafts: list[_Draft] = []
    if layout.chars(start, children[0].start) >= INTRO_MERGE_CHARS:
        drafts.append(_Draft(seed.title, layout.blocks[start : children[0].start], seed.types, seed.linear))
    else:
        children[0].start = start
    for index, child in enumerate(children):
        child_end = children[index + 1].start if index + 1 < len(children) else end
        child.title = f"{seed.title}{TITLE_SEPARATOR}{child.title}"
        child.linear = seed.linear
        drafts.extend(_split(layout, child, child.start, child_end, max_chars))
    return drafts


def _cut_points(layout: _Layout, seed: _Seed, start: int, end: int) -> list[_Seed]:
    """Where an over-long chapter may be cut: at its nested entries, else at the
    documents inside it that open with a heading."""
    if seed.children:
        return [
            _Seed(child.title, layout.position(child), set(child.types), child.children)
            for child in seed.children
        ]
    seeds = []
    for index, offset in enumerate(layout.offsets):
        doc = layout.units[index].doc
        if start < offset < end and doc.blocks and doc.blocks[0].kind is BlockKind.HEADING:
            seeds.append(_Seed(doc.first_heading, offset, set(), []))
    return seeds


def _finish(drafts: list[_Draft]) -> list[IngestedChapter]:
    chapters: list[IngestedChapter] = []
    seen_body = False
    for draft in drafts:
        spoken = [b.text for b in draft.blocks if b.kind is not BlockKind.NOTE]
        notes_only = not spoken
        text = join_paragraphs(spoken or [b.text for b in draft.blocks])
        words = count_words(text)
        if not words:  # nothing to say: an image page, a row of asterisks
            continue
        label = matter_label(draft.types, draft.title)
        if label:
            reason = f"{label} ({'back' if seen_body else 'front'} matter)"
        elif not draft.linear:
            reason = "Supplementary content outside the book's reading order"
        elif notes_only:
            reason = "Notes, which are not read inline"
        else:
            reason = ""
            seen_body = True
        chapters.append(
            IngestedChapter(
                title=_title(draft, len(chapters) + 1),
                text=text,
                words=words,
                chars=len(text),
                included=not reason,
                reason=reason,
            )
        )
    return chapters


def _title(draft: _Draft, number: int) -> str:
    """The draft's title, else its first heading, else its number; never absurdly long."""
    title = " ".join(draft.title.split())
    if not title:
        heading = next((b.text for b in draft.blocks if b.kind is BlockKind.HEADING), "")
        title = " ".join(heading.split()) or f"Section {number}"
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"


def matter_label(types: set[str], title: str) -> str | None:
    for token in sorted(types):
        if token in MATTER_LABELS:
            return MATTER_LABELS[token]
    return _TITLE_MATTER.get(_TITLE_NOISE.sub("", title).strip().casefold())
