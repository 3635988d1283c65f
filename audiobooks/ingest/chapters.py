"""Cut a book's blocks into the chapters and sections a listener chooses from.

Every format ends here: blocks in the spool, grouped in units, and the table of
contents (or the detected headings) as entries pointing at blocks. The plan is made
from the blocks' sizes alone, before any chapter text is read back, so a book is
refused (too many chapters) before anything is stored. The rules:

* a chapter runs from its entry to the next top-level entry, so text no entry covers
  stays with the chapter before it and nothing is lost;
* nested entries stay inside their chapter unless it is longer than about two hours
  of speech; then it is split at its children, recursively, "Parent — Child";
* a chapter still longer than that is divided into sections of about 30 minutes, cut
  between paragraphs (else between sentences): "Title", "Title, part 2", …; a source
  without chapters is divided into "Part 1", "Part 2", …; sections share their
  chapter's `group`, so a picker can show them under it;
* cover, title page, copyright, contents, index, colophon and the like are kept but
  start deselected, with the reason.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate, pairwise

from .errors import ErrorCode, IngestError
from .spool import SEPARATORS, SPOKEN, BlockKind, BlockSpool, Joint, Unit
from .types import IngestedChapter

# Speech runs at about 1,000 characters a minute.
CHARS_PER_MINUTE = 1_000
# About two hours: longer than this, a chapter is split (at its children, else into sections).
MAX_CHAPTER_CHARS = 120 * CHARS_PER_MINUTE
# About 30 minutes: the length of a section.
SECTION_CHARS = 30 * CHARS_PER_MINUTE
# Chapters and sections together; a picker and an M4B stay usable up to here.
MAX_CHAPTERS = 5_000
# Text before a chapter's first child shorter than this (its heading, an epigraph)
# opens the first child instead of becoming a chapter of its own.
INTRO_MERGE_CHARS = 2_000
TITLE_SEPARATOR = " — "
MAX_TITLE_CHARS = 300
# Room either side of a section's ideal end in which to look for the end of a paragraph.
_PARAGRAPH_SEARCH = SECTION_CHARS // 4

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
    # Our own: a plain-text book's title block and printed contents list.
    "title-and-contents": "Title page and contents",
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
class Entry:
    """A table-of-contents entry (or detected heading) resolved to a block."""

    title: str
    unit: int
    position: int  # absolute block index
    types: set[str] = field(default_factory=set)
    children: list[Entry] = field(default_factory=list)


@dataclass(frozen=True)
class PlanOptions:
    # The source has no chapters of its own (TXT, HTML or PDF without headings): its
    # text is divided into "Part 1", "Part 2", … sections.
    headingless: bool = False
    # Headings alone before the first chapter (a web page's <h1>) open it instead of
    # becoming a chapter that says only the book's title.
    merge_front_headings: bool = False


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
    start: int
    end: int
    types: set[str]
    linear: bool
    headingless: bool = False
    notes_only: bool = False
    size: int = 0  # characters that will be spoken (notes' own, for notes only)


@dataclass(frozen=True)
class PlannedChapter:
    title: str
    start: int
    end: int
    notes_only: bool
    included: bool
    reason: str
    group: int
    section: int = 0
    group_title: str = ""


@dataclass
class ChapterPlan:
    chapters: list[PlannedChapter]
    warnings: list[str] = field(default_factory=list)


class _Layout:
    """The spool's blocks with running totals, so any range's size costs O(1)."""

    def __init__(self, spool: BlockSpool) -> None:
        self.spool = spool
        self.units = spool.units
        # Each block counts with the blank line that follows it.
        kinds, chars, words = spool.kinds, spool.chars, spool.words
        self.spoken_chars = _running(c + 2 if k in SPOKEN else 0 for c, k in zip(chars, kinds, strict=True))
        self.spoken_words = _running(w if k in SPOKEN else 0 for w, k in zip(words, kinds, strict=True))
        self.note_chars = _running(
            c + 2 if k == BlockKind.NOTE else 0 for c, k in zip(chars, kinds, strict=True)
        )
        self.note_words = _running(w if k == BlockKind.NOTE else 0 for w, k in zip(words, kinds, strict=True))

    def __len__(self) -> int:
        return len(self.spool)

    def chars(self, start: int, end: int) -> int:
        return self.spoken_chars[end] - self.spoken_chars[start]

    def heading_text(self, start: int, end: int) -> str:
        found = self.spool.first_of_kind(start, end, BlockKind.HEADING)
        return "" if found is None else " ".join(self.spool.text(found).split())

    def first_heading(self, unit: Unit) -> str:
        return self.heading_text(unit.start, min(unit.end, unit.start + 8))


def _running(values: Iterable[int]) -> array[int]:
    return array("I", accumulate(values, initial=0))


def plan_chapters(
    spool: BlockSpool, entries: list[Entry], options: PlanOptions = PlanOptions()
) -> ChapterPlan:
    """Chapters from top-level `entries`; one per unit when there are none."""
    layout = _Layout(spool)
    seeds = _seeds(layout, entries, options) if entries else _unit_seeds(layout)
    seeds.sort(key=lambda seed: seed.start)
    seeds = _merge_same_start(seeds)
    drafts: list[_Draft] = []
    for index, seed in enumerate(seeds):
        end = seeds[index + 1].start if index + 1 < len(seeds) else len(layout)
        drafts.extend(_split(layout, seed, seed.start, end))
    drafts = [draft for draft in drafts if _measure(layout, draft)]
    for draft in drafts:
        draft.headingless = options.headingless and draft.linear and not _is_matter(draft)
    section_chars, warnings = _section_length(drafts)
    return ChapterPlan(_finish(layout, drafts, section_chars), warnings)


def _seeds(layout: _Layout, entries: list[Entry], options: PlanOptions) -> list[_Seed]:
    seeds = [
        _Seed(entry.title, entry.position, _entry_types(layout, entry), entry.children) for entry in entries
    ]
    covered = {entry.unit for entry in _walk(entries)}
    previous_was_split_out = False
    for index, unit in enumerate(layout.units):
        if index in covered or unit.empty:
            previous_was_split_out = False
            continue
        # An uncovered document joins the chapter before it, except when it is front or
        # back matter, out of the reading order, or follows such a split-out document.
        split_out = not unit.linear or bool(unit.types & MATTER_LABELS.keys())
        if split_out or previous_was_split_out:
            seeds.append(_unit_seed(layout, index))
        previous_was_split_out = split_out
    first_start = min(seed.start for seed in seeds)
    if first_start > 0:
        if options.merge_front_headings and _only_headings(layout, 0, first_start):
            for seed in seeds:
                seed.start = 0 if seed.start == first_start else seed.start
        else:
            # Text before the first entry (a preface no entry names, or the opening of the
            # document the first entry points into) is a chapter of its own, never lost.
            seeds.append(_front_seed(layout, first_start))
    return seeds


def _only_headings(layout: _Layout, start: int, end: int) -> bool:
    kinds = layout.spool.kinds[start:end]
    return all(kind in (BlockKind.HEADING, BlockKind.HIDDEN) for kind in kinds)


def _front_seed(layout: _Layout, end: int) -> _Seed:
    first = next(index for index, unit in enumerate(layout.units) if not unit.empty)
    unit = layout.units[first]
    title = layout.heading_text(0, end) or unit.title or f"Section {first + 1}"
    return _Seed(title, 0, set(unit.types), [], linear=unit.linear)


def _unit_seeds(layout: _Layout) -> list[_Seed]:
    return [_unit_seed(layout, index) for index, unit in enumerate(layout.units) if not unit.empty]


def _unit_seed(layout: _Layout, index: int) -> _Seed:
    unit = layout.units[index]
    title = layout.first_heading(unit) or unit.title or f"Section {index + 1}"
    return _Seed(title, unit.start, set(unit.types), [], linear=unit.linear)


def _entry_types(layout: _Layout, entry: Entry) -> set[str]:
    if entry.position == layout.units[entry.unit].start:
        return entry.types | layout.units[entry.unit].types
    return set(entry.types)


def _walk(entries: Iterable[Entry]) -> Iterator[Entry]:
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


def _split(layout: _Layout, seed: _Seed, start: int, end: int) -> list[_Draft]:
    """One draft for the range, or several when it is too long and has places to cut."""
    whole = [_Draft(seed.title, start, end, seed.types, seed.linear)]
    if layout.chars(start, end) <= MAX_CHAPTER_CHARS:
        return whole
    children = [child for child in _cut_points(layout, seed, start, end) if start < child.start < end]
    if not children:
        return whole
    children.sort(key=lambda child: child.start)
    children = _merge_same_start(children)
    drafts: list[_Draft] = []
    if layout.chars(start, children[0].start) >= INTRO_MERGE_CHARS:
        drafts.append(_Draft(seed.title, start, children[0].start, seed.types, seed.linear))
    else:
        children[0].start = start
    for index, child in enumerate(children):
        child_end = children[index + 1].start if index + 1 < len(children) else end
        child.title = f"{seed.title}{TITLE_SEPARATOR}{child.title}"
        child.linear = seed.linear
        drafts.extend(_split(layout, child, child.start, child_end))
    return drafts


def _cut_points(layout: _Layout, seed: _Seed, start: int, end: int) -> list[_Seed]:
    """Where an over-long chapter may be cut: at its nested entries, else at the
    documents inside it that open with a heading."""
    if seed.children:
        return [
            _Seed(child.title, child.position, set(child.types), child.children) for child in seed.children
        ]
    seeds = []
    for unit in layout.units:
        if (
            start < unit.start < end
            and not unit.empty
            and layout.spool.kinds[unit.start] == BlockKind.HEADING
        ):
            seeds.append(_Seed(layout.first_heading(unit), unit.start, set(), []))
    return seeds


def _measure(layout: _Layout, draft: _Draft) -> bool:
    """Size the draft; False when it has nothing to say (an image page, a row of asterisks)."""
    draft.size = layout.chars(draft.start, draft.end)
    words = layout.spoken_words[draft.end] - layout.spoken_words[draft.start]
    if not draft.size:
        draft.notes_only = True
        draft.size = layout.note_chars[draft.end] - layout.note_chars[draft.start]
        words = layout.note_words[draft.end] - layout.note_words[draft.start]
    return words > 0


def _sections_of(draft: _Draft, section_chars: int) -> int:
    if draft.headingless or draft.size > MAX_CHAPTER_CHARS:
        return max(1, round(draft.size / section_chars))
    return 1


def _section_length(drafts: list[_Draft]) -> tuple[int, list[str]]:
    """How long a section is: about 30 minutes, or longer when a book is so long that it
    would otherwise pass `MAX_CHAPTERS` (said in a warning); refused when even whole
    chapters are too many."""
    if len(drafts) > MAX_CHAPTERS:
        raise IngestError(
            ErrorCode.TOO_MANY_CHAPTERS,
            f"This book has {len(drafts):,} chapters; we read books of up to {MAX_CHAPTERS:,}, so that "
            "choosing among them stays possible. Please split it into several books.",
        )
    if sum(_sections_of(draft, SECTION_CHARS) for draft in drafts) <= MAX_CHAPTERS:
        return SECTION_CHARS, []
    low, high = SECTION_CHARS, max(draft.size for draft in drafts) * 2 + 1
    while low < high:
        middle = (low + high) // 2
        if sum(_sections_of(draft, middle) for draft in drafts) <= MAX_CHAPTERS:
            high = middle
        else:
            low = middle + 1
    minutes = round(low / CHARS_PER_MINUTE)
    return low, [
        f"This book is so long that its parts are about {minutes} minutes each instead of "
        f"{SECTION_CHARS // CHARS_PER_MINUTE}, so that it has no more than {MAX_CHAPTERS:,} chapters "
        "and parts."
    ]


def _finish(layout: _Layout, drafts: list[_Draft], section_chars: int) -> list[PlannedChapter]:
    chapters: list[PlannedChapter] = []
    seen_body = False
    for group, draft in enumerate(drafts):
        title = _title(layout, draft, len(chapters) + 1)
        label = matter_label(draft.types, title)
        if label:
            reason = f"{label} ({'back' if seen_body else 'front'} matter)"
        elif not draft.linear:
            reason = "Supplementary content outside the book's reading order"
        elif draft.notes_only:
            reason = "Notes, which are not read inline"
        else:
            reason = ""
            seen_body = True
        bounds = _section_bounds(layout, draft, _sections_of(draft, section_chars))
        sectioned = len(bounds) > 2
        for number, (start, end) in enumerate(pairwise(bounds), start=1):
            chapters.append(
                PlannedChapter(
                    title=_section_title(title, number, draft.headingless) if sectioned else title,
                    start=start,
                    end=end,
                    notes_only=draft.notes_only,
                    included=not reason,
                    reason=reason,
                    group=group,
                    section=number if sectioned else 0,
                    group_title=title if sectioned else "",
                )
            )
    return chapters


def _section_title(title: str, number: int, headingless: bool) -> str:
    if headingless:
        return f"Part {number}"
    return title if number == 1 else f"{title}, part {number}"


def _section_bounds(layout: _Layout, draft: _Draft, count: int) -> list[int]:
    """Block positions dividing the draft into `count` sections of about equal length,
    each ending where a paragraph does when one ends near enough, else between sentences."""
    bounds = [draft.start]
    if count > 1:
        totals = layout.note_chars if draft.notes_only else layout.spoken_chars
        joints = layout.spool.joints
        base = totals[draft.start]
        for number in range(1, count):
            target = base + draft.size * number // count
            low = bounds[-1] + 1
            if low >= draft.end:
                break
            ideal = min(max(bisect.bisect_left(totals, target, low, draft.end), low), draft.end - 1)
            bounds.append(_nearest_paragraph(totals, joints, ideal, (low, draft.end), target) or ideal)
    bounds.append(draft.end)
    return bounds


def _nearest_paragraph(
    totals: array[int], joints: bytearray, ideal: int, within: tuple[int, int], target: int
) -> int | None:
    """The block nearest `ideal` (within `_PARAGRAPH_SEARCH` characters of `target`, and
    inside `within`) that opens a paragraph."""
    low, high = within
    for step in range(high - low):
        candidates = [ideal - step, ideal + step] if step else [ideal]
        in_reach = False
        for candidate in candidates:
            if low <= candidate < high and abs(totals[candidate] - target) <= _PARAGRAPH_SEARCH:
                in_reach = True
                if joints[candidate] == Joint.PARAGRAPH:
                    return candidate
        if not in_reach:
            return None
    return None


def _title(layout: _Layout, draft: _Draft, number: int) -> str:
    """The draft's title, else its first heading, else its number; never absurdly long."""
    title = (
        " ".join(draft.title.split()) or layout.heading_text(draft.start, draft.end) or f"Section {number}"
    )
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"


def _is_matter(draft: _Draft) -> bool:
    return matter_label(draft.types, draft.title) is not None


def matter_label(types: set[str], title: str) -> str | None:
    for token in sorted(types):
        if token in MATTER_LABELS:
            return MATTER_LABELS[token]
    return _TITLE_MATTER.get(_TITLE_NOISE.sub("", title).strip().casefold())


def emit_chapters(spool: BlockSpool, plan: ChapterPlan) -> Iterator[IngestedChapter]:
    """The planned chapters with their text, read back from the spool one at a time."""
    for planned in plan.chapters:
        wanted = (BlockKind.NOTE,) if planned.notes_only else SPOKEN
        parts: list[str] = []
        words = 0
        for index, text in spool.texts(planned.start, planned.end):
            if spool.kinds[index] not in wanted:
                continue
            joint = spool.joints[index]
            if parts:
                parts.append(SEPARATORS[joint])
                if (
                    joint == Joint.GLUED
                    and _has_word(parts[-2].rsplit(None, 1)[-1])
                    and _has_word(text.split(None, 1)[0])
                ):
                    words -= 1  # a run cut in two, counted as two words when stored
            parts.append(text)
            words += spool.words[index]
        text = "".join(parts)
        yield IngestedChapter(
            title=planned.title,
            text=text,
            words=words,
            chars=len(text),
            included=planned.included,
            reason=planned.reason,
            group=planned.group,
            section=planned.section,
            group_title=planned.group_title,
        )


def _has_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token)
