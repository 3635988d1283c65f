"""A single HTML (or XHTML) file as a book, streamed: chapters from its headings.

Often it is a web page: its header, navigation, sidebars and footer are not read,
and when it marks its content with <main> or <article>, only that is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .chapters import PlanOptions, plan_chapters
from .errors import ErrorCode, IngestError
from .marks import find_marks, mark_headings, nest, tag_heading_entries
from .markup import read_markup
from .reading import BookReading
from .safety import MiB
from .spool import BlockKind, BlockSpool
from .types import BookFormat

MAX_HTML_BYTES = 256 * MiB
READ_BYTES = 1 * MiB
# "Moby-Dick | Free Classics Library": what follows the bar (or dash) names the site.
_SITE_SUFFIX = re.compile(r"\s+[|–—]\s+")


def read_html(path: Path, name: str, spool: BlockSpool) -> BookReading:
    if path.stat().st_size > MAX_HTML_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"This HTML file is larger than {MAX_HTML_BYTES // MiB} MB; we can't read it.",
        )
    unit = spool.begin_unit(name)
    result = read_markup(lambda: _chunks(path), name, spool, unit, targets=set(), web_page=True)
    spool.end_unit(unit)
    if not any(kind != BlockKind.HIDDEN for kind in spool.kinds):
        raise _nothing_to_read(result.info.chrome_words)
    title = _book_title(spool, result.info.title)
    entries = tag_heading_entries(spool)
    if not entries:
        marks = find_marks(spool)
        mark_headings(spool, marks)
        entries = nest(marks)
    unit.title = title or Path(name).stem
    plan = plan_chapters(spool, entries, PlanOptions(headingless=not entries, merge_front_headings=True))
    return BookReading(
        title=title,
        authors=result.info.authors,
        language=result.info.language or "und",
        format=BookFormat.HTML,
        plan=plan,
        warnings=plan.warnings,
    )


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(READ_BYTES):
            yield chunk


def _nothing_to_read(chrome_words: int) -> IngestError:
    if chrome_words:
        return IngestError(
            ErrorCode.NO_TEXT,
            "This HTML page has nothing to read aloud: its only text is the site's navigation, header "
            "and footer.",
        )
    return IngestError(ErrorCode.NO_TEXT, "This HTML file has nothing to read aloud: it holds no text.")


def _book_title(spool: BlockSpool, page_title: str) -> str:
    """The page's <title> (without a site's name after it when the <h1> is shorter), else
    its first heading."""
    h1 = _first_h1(spool)
    if page_title and h1 and len(h1) < len(page_title):
        page_title = _SITE_SUFFIX.split(page_title, maxsplit=1)[0].strip()
    return page_title or h1 or _first_heading(spool)


def _first_h1(spool: BlockSpool) -> str:
    for match in re.finditer(re.escape(bytes([BlockKind.HEADING])), spool.kinds):
        if spool.levels[match.start()] == 1:
            return " ".join(spool.text(match.start()).split())
    return ""


def _first_heading(spool: BlockSpool) -> str:
    found = spool.first_of_kind(0, min(len(spool), 8), BlockKind.HEADING)
    return "" if found is None else " ".join(spool.text(found).split())
