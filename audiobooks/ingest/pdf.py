"""PDF books through pypdf's text layer.

A PDF is a stack of printed pages, so the work is undoing print: drop running
headers, footers and page numbers, rejoin words hyphenated at line ends, rebuild
paragraphs from lines, and cut chapters at the outline (bookmarks) or, without one,
at lines that read like chapter headings.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pypdf import PasswordType, PdfReader
from pypdf.generic import Destination, DictionaryObject

from .blocks import Block, BlockKind, DocumentText
from .chapters import Entry, Unit, build_chapters
from .cleaning import join_broken_words, vocabulary
from .errors import ErrorCode, IngestError, shown
from .headings import find_marks, heading_rank, mark_headings, nest
from .safety import MiB
from .types import BookFormat, IngestedBook

logger = logging.getLogger(__name__)

# pypdf holds the whole file and its object graph in memory.
MAX_PDF_BYTES = 100 * MiB
MAX_PAGES = 3_000
# Lines this close to a page's top or bottom may be running heads or folios.
EDGE_LINES = 2
# A repeated edge line is furniture when it recurs on this many pages...
FURNITURE_MIN_PAGES = 3
# ...mostly on pages near each other (a chapter title that opens several chapters does not).
FURNITURE_NEAR_PAGES = 2
# A line shorter than this share of the usual line, ending a sentence, ends a paragraph.
SHORT_LINE_SHARE = 0.8

_FOLIO = re.compile(
    r"^(?:page\s+)?[-–—\[(]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—\])]?(?:\s*(?:of|/)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_SENTENCE_END = (".", "!", "?", ":", "”", '"', "’", ")")
_JUNK_TITLE = re.compile(r"^(?:untitled|microsoft word\b.*|.*\.(?:docx?|pdf|rtf|odt))$", re.IGNORECASE)


@dataclass
class _Outline:
    title: str
    page: int
    children: list[_Outline] = field(default_factory=list)


def read_pdf(path: Path, name: str) -> IngestedBook:
    if path.stat().st_size > MAX_PDF_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE, f"This PDF is larger than {MAX_PDF_BYTES // MiB} MB; we can't read it."
        )
    reader, count = _open(path, name)
    pages, unreadable = _page_lines(reader, count)
    with_text = sum(1 for lines in pages if any(any(ch.isalnum() for ch in line) for line in lines))
    if not with_text:
        raise IngestError(
            ErrorCode.PDF_NO_TEXT,
            "This PDF has no text layer: its pages are images (probably scanned), so there is nothing "
            "to read aloud. Please upload a PDF with selectable text, or run it through OCR first.",
        )
    warnings = _page_warnings(len(pages), with_text, unreadable)
    pages = strip_furniture(pages)
    outline = _outline(reader)
    starts = _outline_starts(outline, pages)
    blocks, block_at = page_paragraphs(pages, set(starts.values()))
    if outline:
        entries = _outline_entries(outline, starts, block_at)
    else:
        marks = find_marks(blocks)
        blocks = mark_headings(blocks, marks)
        entries = nest(marks)
    title, authors, language = _metadata(reader)
    doc = DocumentText(blocks, title=title or Path(name).stem)
    return IngestedBook(
        title=title,
        authors=authors,
        language=language,
        chapters=build_chapters([Unit(doc, name=name)], entries),
        format=BookFormat.PDF,
        warnings=warnings,
    )


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
        logger.info("pypdf could not open %s", name, exc_info=True)
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


def _page_lines(reader: PdfReader, count: int) -> tuple[list[list[str]], int]:
    pages: list[list[str]] = []
    unreadable = 0
    for number in range(count):
        try:
            text = reader.pages[number].extract_text() or ""
        except Exception:  # one broken page must not cost the book
            logger.info("pypdf could not extract page %d", number, exc_info=True)
            text = ""
            unreadable += 1
        pages.append([" ".join(line.split()) for line in text.split("\n") if line.strip()])
    return pages, unreadable


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


def strip_furniture(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers and running headers/footers from the top and bottom of pages."""
    seen: dict[str, list[int]] = defaultdict(list)
    for number, lines in enumerate(pages):
        for key in {_furniture_key(line) for line in _edges(lines)}:
            seen[key].append(number)
    furniture = {key for key, numbers in seen.items() if _recurs_nearby(numbers)}
    cleaned = []
    for lines in pages:
        edge = {*range(min(EDGE_LINES, len(lines))), *range(max(0, len(lines) - EDGE_LINES), len(lines))}
        cleaned.append(
            [
                line
                for index, line in enumerate(lines)
                if index not in edge or not (_FOLIO.match(line) or _furniture_key(line) in furniture)
            ]
        )
    return cleaned


def _edges(lines: list[str]) -> list[str]:
    return lines[:EDGE_LINES] + lines[-EDGE_LINES:]


def _furniture_key(line: str) -> str:
    """Running heads vary only in their page number, so digits are masked; chapter
    headings ("Chapter 7") keep theirs, or every chapter opening would look alike."""
    if heading_rank(line) is not None:
        return line.casefold().strip()
    return _DIGITS.sub("#", line.casefold()).strip()


def _recurs_nearby(numbers: list[int]) -> bool:
    if len(numbers) < FURNITURE_MIN_PAGES:
        return False
    near = sum(
        1
        for index, number in enumerate(numbers)
        if (index > 0 and number - numbers[index - 1] <= FURNITURE_NEAR_PAGES)
        or (index + 1 < len(numbers) and numbers[index + 1] - number <= FURNITURE_NEAR_PAGES)
    )
    return near * 2 >= len(numbers)


def page_paragraphs(
    pages: list[list[str]], breaks: set[tuple[int, int]]
) -> tuple[list[Block], dict[tuple[int, int], int]]:
    """Paragraphs rebuilt from lines across pages, and the block each forced break
    (page, line) starts."""
    lengths = [len(line) for lines in pages for line in lines]
    width = statistics.median(lengths) if lengths else 0
    words, compounds = vocabulary("\n".join(line for lines in pages for line in lines))
    blocks: list[Block] = []
    block_at: dict[tuple[int, int], int] = {}
    current: list[str] = []

    def flush() -> None:
        if current:
            text = join_broken_words("\n".join(current), words, compounds)
            blocks.append(Block(" ".join(text.split("\n")), BlockKind.TEXT))
            current.clear()

    for page_number, lines in enumerate(pages):
        for line_number, line in enumerate(lines):
            if (page_number, line_number) in breaks or heading_rank(line) is not None:
                flush()
                block_at[(page_number, line_number)] = len(blocks)
            current.append(line)
            if heading_rank(line) is not None or (
                line.endswith(_SENTENCE_END) and len(line) < SHORT_LINE_SHARE * width
            ):
                flush()
    flush()
    return blocks, block_at


def _outline(reader: PdfReader) -> list[_Outline]:
    try:
        return _outline_items(reader, reader.outline)
    except Exception:  # a broken outline just means no outline
        logger.info("pypdf could not read the outline", exc_info=True)
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


def _outline_starts(outline: list[_Outline], pages: list[list[str]]) -> dict[int, tuple[int, int]]:
    """Where each outline entry starts: the line on its page that repeats its title, else
    the top of the page. Keyed by id() because titles repeat ("Notes")."""
    starts: dict[int, tuple[int, int]] = {}
    stack = list(outline)
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        lines = pages[node.page] if node.page < len(pages) else []
        wanted = _folded(node.title)
        line = next((i for i, text in enumerate(lines) if wanted and _folded(text).startswith(wanted)), 0)
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
