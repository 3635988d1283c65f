"""PDF books through pypdf's text layer.

A PDF is a stack of printed pages, so the work is undoing print: drop running
headers, footers and page numbers (even when a header repeats the chapter's own
title), rejoin words hyphenated at line ends, rebuild paragraphs from lines (a
paragraph ends at a short last line, a first-line indent or a wider gap between
lines), and cut chapters at the outline (bookmarks) or, without one, at lines that
read like chapter headings. Each line's position and size come from pypdf's
extraction visitor.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.generic import Destination, DictionaryObject

from .chapters import Entry, PlanOptions, plan_chapters
from .cleaning import Vocabulary
from .covers import JPEG_QUALITY, MAX_COVER_SIDE
from .errors import ErrorCode, IngestError, shown
from .headings import heading_rank, is_subtitle
from .marks import find_marks, mark_headings, nest
from .reading import BookReading
from .safety import MiB
from .spool import BlockSpool
from .types import BookFormat

logger = logging.getLogger(__name__)

# pypdf holds the whole file and its object graph in memory.
MAX_PDF_BYTES = 100 * MiB
MAX_PAGES = 3_000
# Lines this close to a page's top or bottom may be running heads or folios.
EDGE_LINES = 2
# A line that recurs at the edge of pages at most this far apart is a running head or
# foot (a chapter title on odd pages recurs every second page)...
FURNITURE_NEAR_PAGES = 4
# ...once it has recurred this often; the first of a run of headings is the real one.
FURNITURE_MIN_RUN = 3
# Longer lines are prose, never a heading or a running head.
MAX_HEADING_LINE = 100
# A line shorter than this share of the usual line, ending a sentence, ends a paragraph.
SHORT_LINE_SHARE = 0.8
# A gap this many times the usual line spacing ends a paragraph.
PARAGRAPH_GAP = 1.4
# A line this much larger than the body text is a heading.
HEADING_SIZE = 1.15
# A first-line indent is at least this share of the font size.
INDENT_SHARE = 0.6
# A line that is this much of the start of an outline title is that title's first line.
TITLE_SHARE = 0.6

_FOLIO = re.compile(
    r"^(?:page\s+)?[-–—\[(]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—\])]?(?:\s*(?:of|/)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_LEADING_FOLIO = re.compile(r"^\d{1,4}\s+(\S.*)$")
_TRAILING_FOLIO = re.compile(r"^(.*\S)\s+\d{1,4}$")
_SENTENCE_END = (".", "!", "?", ":", "”", '"', "’", ")")
_JUNK_TITLE = re.compile(r"^(?:untitled|microsoft word\b.*|.*\.(?:docx?|pdf|rtf|odt))$", re.IGNORECASE)


@dataclass
class _Outline:
    title: str
    page: int
    children: list[_Outline] = field(default_factory=list)


@dataclass
class Line:
    """A line of text where the page puts it: `x` of its start and `y` of its baseline
    in points from the bottom left, and its font size; None where pypdf gave none."""

    text: str
    x: float | None = None
    y: float | None = None
    size: float | None = None


def read_pdf(path: Path, name: str, spool: BlockSpool) -> BookReading:
    if path.stat().st_size > MAX_PDF_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE, f"This PDF is larger than {MAX_PDF_BYTES // MiB} MB; we can't read it."
        )
    reader, count = _open(path, name)
    pages, unreadable = _page_lines(reader, count)
    with_text = sum(1 for lines in pages if any(any(ch.isalnum() for ch in line.text) for line in lines))
    if not with_text:
        raise IngestError(
            ErrorCode.PDF_NO_TEXT,
            "This PDF has no text layer: its pages are images (probably scanned), so there is nothing "
            "to read aloud. Please upload a PDF with selectable text, or run it through OCR first.",
        )
    warnings = _page_warnings(len(pages), with_text, unreadable)
    outline = _outline(reader)
    titles = {_folded(node.title) for node in _walk_outline(outline)} - {""}
    pages = strip_furniture(pages, titles)
    starts = _outline_starts(outline, pages)
    title, authors, language = _metadata(reader)
    unit = spool.begin_unit(name)
    unit.title = title or Path(name).stem
    block_at = page_paragraphs(pages, set(starts.values()), titles, spool)
    spool.end_unit(unit)
    if outline:
        entries = _outline_entries(outline, starts, block_at)
    else:
        marks = find_marks(spool)
        mark_headings(spool, marks)
        entries = nest(marks)
    plan = plan_chapters(spool, entries, PlanOptions(headingless=not entries))
    return BookReading(
        title=title,
        authors=authors,
        language=language,
        format=BookFormat.PDF,
        plan=plan,
        cover=first_page_picture(path, name),
        cover_media_type="image/jpeg",
        warnings=warnings + plan.warnings,
    )


def first_page_picture(path: Path, name: str) -> bytes | None:
    """The first page drawn as a JPEG of at most MAX_COVER_SIDE px, the book's cover; None if it can't be.

    pypdf reads text but draws nothing, so pdfium draws the page. The scale is set
    from the page's size, so even an absurd page box makes a bounded picture.
    """
    import pypdfium2 as pdfium  # noqa: PLC0415  (loaded only for PDFs)

    try:
        document = pdfium.PdfDocument(str(path))
    except Exception as exc:  # damaged, or locked with a real password: the text was read anyway
        logger.info("pdfium could not open %s: %r", name, exc)
        return None
    try:
        page = document[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            return None
        image = page.render(scale=MAX_COVER_SIDE / max(width, height)).to_pil()
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()
    except Exception as exc:
        logger.info("pdfium could not draw the first page of %s: %r", name, exc)
        return None
    finally:
        document.close()


def _open(path: Path, name: str) -> tuple[PdfReader, int]:
    """The reader and its page count; refuses damaged, locked and oversized files."""
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            _decrypt(reader)
        count = len(reader.pages)
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        logger.info("pypdf could not open %s: %r", name, exc)
        raise _corrupt(name) from exc
    if count > MAX_PAGES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"This PDF has {count:,} pages; we read books up to {MAX_PAGES:,}.",
        )
    return reader, count


def _corrupt(name: str) -> IngestError:
    if name.lower().endswith(".pdf"):
        return IngestError(ErrorCode.CORRUPT_PDF, "This PDF is damaged or incomplete, so it can't be read.")
    return IngestError(
        ErrorCode.CORRUPT_PDF,
        f"This file is named “{shown(name)}”, but its contents start like a PDF, and that PDF is "
        "damaged or incomplete, so it can't be read.",
    )


def _decrypt(reader: PdfReader) -> None:
    """Open PDFs locked only against editing (empty user password); refuse the rest."""
    encrypt = cast(DictionaryObject, reader.trailer["/Encrypt"].get_object())
    handler = str(encrypt.get("/Filter", "/Standard"))
    if handler != "/Standard":
        raise IngestError(
            ErrorCode.DRM,
            f"This PDF is DRM-protected ({handler.lstrip('/')}), so it can't be read. "
            "Please upload a DRM-free copy.",
        )
    try:
        opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # unsupported algorithm, broken dictionary
        opened = False
    if not opened:
        raise IngestError(
            ErrorCode.PDF_ENCRYPTED,
            "This PDF is password-protected, so it can't be read. Please upload an unprotected copy.",
        )


def _page_lines(reader: PdfReader, count: int) -> tuple[list[list[Line]], int]:
    pages: list[list[Line]] = []
    unreadable = 0
    for number in range(count):
        try:
            lines = _lines_of(reader.pages[number])
        except Exception as exc:  # one broken page must not cost the book
            logger.info("pypdf could not extract page %d: %r", number, exc)
            lines = []
            unreadable += 1
        pages.append(lines)
    return pages, unreadable


def _lines_of(page: PageObject) -> list[Line]:
    """The page's lines, each placed where its first visible text starts."""
    lines: list[Line] = []
    parts: list[str] = []
    placed: list[float] = []

    def finish() -> None:
        text = " ".join("".join(parts).split())
        if text:
            lines.append(Line(text, *placed) if placed else Line(text))
        parts.clear()
        placed.clear()

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, size: float) -> None:
        for index, piece in enumerate(text.split("\n")):
            if index:
                finish()
            if piece.strip() and not placed:
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
                placed.extend((x, y, size * scale))
            parts.append(piece)

    plain = page.extract_text(visitor_text=visit) or ""
    finish()
    if not lines and plain.strip():  # no visitor calls: the text without its places
        return [Line(" ".join(line.split())) for line in plain.split("\n") if line.strip()]
    return lines


def _page_warnings(total: int, with_text: int, unreadable: int) -> list[str]:
    warnings = []
    if unreadable:
        warnings.append(f"{unreadable} page(s) of this PDF are damaged; their text is missing.")
    blank = total - with_text - unreadable
    # Books have blank pages; many of them means scanned pages without a text layer.
    if blank > 2 and blank > total // 10:
        warnings.append(
            f"{blank} of {total} pages have no text layer (probably scanned images); their text is missing."
        )
    return warnings


def strip_furniture(pages: list[list[Line]], titles: set[str]) -> list[list[Line]]:
    """Drop page numbers and running headers and footers from the top and bottom of pages.

    An edge line is furniture when the same words recur at the edge of pages near each
    other. A running head that repeats a chapter's title follows the real heading on
    the chapter's first page: that heading is kept (the first of the run when it is at
    the page's edge too), the running heads go.
    """
    seen: dict[str, list[int]] = defaultdict(list)  # edge line -> pages it is at the edge of
    headings: dict[str, list[int]] = defaultdict(list)  # heading -> pages it is inside of, not at the edge
    for number, lines in enumerate(pages):
        edge = _edge_indexes(lines)
        for index, line in enumerate(lines):
            at_edge = index in edge
            if not at_edge and len(line.text) > MAX_HEADING_LINE:
                continue
            key = _furniture_key(line.text)
            if at_edge and (not seen[key] or seen[key][-1] != number):
                seen[key].append(number)
            if _heading_like(lines, index, titles):
                heading_pages = headings[key]
                if not at_edge:
                    heading_pages.append(number)
    furniture: set[tuple[int, str]] = set()
    for key, numbers in seen.items():
        for run in _runs(numbers):
            if key in headings:
                inside = any(run[0] - FURNITURE_NEAR_PAGES <= page < run[0] for page in headings[key])
                furniture.update((number, key) for number in (run if inside else run[1:]))
            elif len(run) >= FURNITURE_MIN_RUN:
                furniture.update((number, key) for number in run)
    cleaned = []
    for number, lines in enumerate(pages):
        edge = _edge_indexes(lines)
        cleaned.append(
            [
                line
                for index, line in enumerate(lines)
                if index not in edge
                or not (_FOLIO.match(line.text) or (number, _furniture_key(line.text)) in furniture)
            ]
        )
    return cleaned


def _edge_indexes(lines: list[Line]) -> set[int]:
    count = len(lines)
    return {*range(min(EDGE_LINES, count)), *range(max(0, count - EDGE_LINES), count)}


def _heading_like(lines: list[Line], index: int, titles: set[str]) -> bool:
    """A chapter's heading (or the title line under a bare one), by its words."""
    text = lines[index].text
    if heading_rank(text) is not None or _matches_title(text, titles):
        return True
    return (
        index > 0
        and heading_rank(lines[index - 1].text) is not None
        and is_subtitle(lines[index - 1].text, text)
    )


def _runs(numbers: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number - runs[-1][-1] <= FURNITURE_NEAR_PAGES:
            runs[-1].append(number)
        else:
            runs.append([number])
    return runs


def _furniture_key(line: str) -> str:
    """Running heads vary only in their page number: digits are masked, except in a
    heading ("Chapter 7"), whose number tells it apart; there only a page number before
    or after it goes ("Chapter 2. The Carpet-Bag. 17")."""
    if heading_rank(line) is None:
        return _DIGITS.sub("#", line.casefold()).strip()
    for pattern in (_LEADING_FOLIO, _TRAILING_FOLIO):
        match = pattern.match(line)
        if match and heading_rank(match.group(1)) is not None:
            line = match.group(1)
    return line.casefold().strip()


def _matches_title(text: str, titles: set[str]) -> bool:
    """The line is an outline title, maybe with more after it (a page number), or most of
    the start of one (a title set on two lines)."""
    folded = _folded(text)
    return bool(folded) and any(
        folded.startswith(title) or (title.startswith(folded) and len(folded) >= TITLE_SHARE * len(title))
        for title in titles
    )


class _Measures:
    """The book's usual line: its length in characters, its spacing, its font size, and
    each page's left margin (odd and even pages differ)."""

    def __init__(self, pages: list[list[Line]]) -> None:
        lengths = [len(line.text) for lines in pages for line in lines]
        self.width = statistics.median(lengths) if lengths else 0
        sizes = [line.size for lines in pages for line in lines if line.size]
        self.size = statistics.median(sizes) if sizes else 0.0
        gaps = [
            upper.y - lower.y
            for lines in pages
            for upper, lower in pairwise(lines)
            if upper.y is not None and lower.y is not None and upper.y > lower.y
        ]
        self.spacing = statistics.median(gaps) if gaps else 0.0
        self.margins = [_margin(lines) for lines in pages]
        # Where a page's text usually starts: a page that starts lower opens with a gap.
        tops = [lines[0].y for lines in pages if len(lines) > 2 and lines[0].y is not None]
        self.top = statistics.median(tops) if tops else None

    def indent(self, page: int, line: Line) -> float:
        margin = self.margins[page]
        return 0.0 if line.x is None or margin is None else line.x - margin


def _margin(lines: list[Line]) -> float | None:
    """The page's left margin: where most of its lines start."""
    starts = Counter(round(line.x) for line in lines if line.x is not None)
    return float(min(x for x, count in starts.items() if count == max(starts.values()))) if starts else None


def page_paragraphs(
    pages: list[list[Line]], breaks: set[tuple[int, int]], titles: set[str], spool: BlockSpool
) -> dict[tuple[int, int], int]:
    """Store paragraphs rebuilt from lines across pages; returns the block each forced
    break (page, line) starts."""
    flow = _Flow(pages, titles, spool)
    block_at: dict[tuple[int, int], int] = {}
    for page_number, lines in enumerate(pages):
        for line_number, line in enumerate(lines):
            opened = flow.line(page_number, line, force=(page_number, line_number) in breaks)
            if opened is not None:
                block_at[(page_number, line_number)] = opened
    flow.flush()
    return block_at


class _Flow:
    """Lines in reading order into paragraphs. A paragraph ends after a heading (and the
    title line under a bare one), after a short line that ends a sentence, and before a
    first-line indent or a wider gap than the usual spacing."""

    def __init__(self, pages: list[list[Line]], titles: set[str], spool: BlockSpool) -> None:
        self.measures = _Measures(pages)
        self.titles = titles
        self.spool = spool
        self.vocabulary = Vocabulary()
        for lines in pages:
            self.vocabulary.add("\n".join(line.text for line in lines))
        self.current: list[str] = []
        self.previous: tuple[int, Line] | None = None
        self.previous_heading = False
        self.previous_opened = False  # the previous line began its paragraph

    def line(self, page: int, line: Line, *, force: bool) -> int | None:
        """Add a line; when it begins a paragraph, the block that paragraph will be."""
        heading = _is_heading_line(line, self.measures, self.titles)
        opens = force or heading or self._opens_paragraph(page, line)
        if opens:
            self.flush()
        block = len(self.spool) if opens else None
        subtitle = self.previous_heading and not self.current and self._subtitle(line)
        self.current.append(line.text)
        if heading or subtitle or self._short_last_line(line):
            self.flush()
        self.previous, self.previous_heading, self.previous_opened = (page, line), heading, opens
        return block

    def flush(self) -> None:
        if self.current:
            self.spool.add(self.vocabulary.mend("\n".join(self.current)).replace("\n", " "))
            self.current.clear()

    def _subtitle(self, line: Line) -> bool:
        return self.previous is not None and is_subtitle(self.previous[1].text, line.text)

    def _short_last_line(self, line: Line) -> bool:
        return line.text.endswith(_SENTENCE_END) and len(line.text) < SHORT_LINE_SHARE * self.measures.width

    def _opens_paragraph(self, page: int, line: Line) -> bool:
        """A first-line indent (an indented line after one at the margin, or after one
        that began a paragraph itself), or a wider gap than usual above the line (or
        above the page's usual first line)."""
        if self.previous is None:
            return False
        previous_page, before = self.previous
        measures = self.measures
        threshold = INDENT_SHARE * (line.size or measures.size or 10.0)
        indent = measures.indent(page, line)
        if indent > threshold and (
            self.previous_opened or indent - measures.indent(previous_page, before) > threshold
        ):
            return True
        if line.y is None or not measures.spacing:
            return False
        if previous_page != page:  # lower than the page's usual first line, by more than a little
            return measures.top is not None and measures.top - line.y > (PARAGRAPH_GAP - 1) * measures.spacing
        return before.y is not None and before.y - line.y > PARAGRAPH_GAP * measures.spacing


def _is_heading_line(line: Line, measures: _Measures, titles: set[str]) -> bool:
    if heading_rank(line.text) is not None:
        return True
    if titles and len(line.text) <= MAX_HEADING_LINE and _matches_title(line.text, titles):
        return True
    return bool(line.size and measures.size and line.size >= HEADING_SIZE * measures.size)


def _outline(reader: PdfReader) -> list[_Outline]:
    try:
        return _outline_items(reader, reader.outline)
    except Exception as exc:  # a broken outline just means no outline
        logger.info("pypdf could not read the outline: %r", exc)
        return []


def _outline_items(reader: PdfReader, items: list[Any]) -> list[_Outline]:
    nodes: list[_Outline] = []
    for item in items:
        if isinstance(item, list):
            if nodes:
                nodes[-1].children = _outline_items(reader, item)
            continue
        if isinstance(item, Destination):
            page = reader.get_destination_page_number(item)
            if page is not None and page >= 0:
                nodes.append(_Outline(" ".join(str(item.title or "").split()), page))
    return nodes


def _walk_outline(nodes: list[_Outline]) -> list[_Outline]:
    found = []
    for node in nodes:
        found.append(node)
        found.extend(_walk_outline(node.children))
    return found


def _outline_starts(outline: list[_Outline], pages: list[list[Line]]) -> dict[int, tuple[int, int]]:
    """Where each outline entry starts: the line on its page that repeats its title, else
    the top of the page. Keyed by id() because titles repeat ("Notes")."""
    starts: dict[int, tuple[int, int]] = {}
    stack = list(outline)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        lines = pages[node.page] if node.page < len(pages) else []
        wanted = _folded(node.title)
        line = next(
            (i for i, text in enumerate(lines) if wanted and _folded(text.text).startswith(wanted)), 0
        )
        starts[id(node)] = (node.page, line)
    return starts


def _folded(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _outline_entries(
    outline: list[_Outline], starts: dict[int, tuple[int, int]], block_at: dict[tuple[int, int], int]
) -> list[Entry]:
    return [
        Entry(
            node.title,
            0,
            block_at.get(starts[id(node)], 0),
            children=_outline_entries(node.children, starts, block_at),
        )
        for node in outline
    ]


def _metadata(reader: PdfReader) -> tuple[str, list[str], str]:
    try:
        info = reader.metadata
        title = " ".join(str(info.title or "").split()) if info else ""
        author = " ".join(str(info.author or "").split()) if info else ""
        catalog = cast(DictionaryObject, reader.trailer["/Root"].get_object())
        language = str(catalog.get("/Lang", "") or "").strip()
    except Exception:  # metadata is a nicety; damaged metadata is not a damaged book
        return "", [], "und"
    if _JUNK_TITLE.match(title):
        title = ""
    return title, [author] if author else [], language or "und"
