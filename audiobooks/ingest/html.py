"""A single HTML (or XHTML) file as a book: chapters from its headings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lxml import etree

from .blocks import BlockKind, DocumentText, extract_blocks
from .chapters import Entry, Unit, build_chapters
from .errors import ErrorCode, IngestError
from .headings import Mark, find_marks, mark_headings, nest
from .safety import MiB
from .types import BookFormat, IngestedBook
from .xmlsafe import parse_document

MAX_HTML_BYTES = 32 * MiB
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def read_html(path: Path, name: str) -> IngestedBook:
    with path.open("rb") as handle:
        data = handle.read(MAX_HTML_BYTES + 1)
    if len(data) > MAX_HTML_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"This HTML file is larger than {MAX_HTML_BYTES // MiB} MB; we can't read it.",
        )
    parsed = parse_document(data, name)
    if parsed is None:
        raise IngestError(ErrorCode.NO_TEXT, "This HTML file has nothing to read aloud: it is empty.")
    root = parsed.root
    doc = extract_blocks(root)
    if not doc.blocks:
        raise IngestError(ErrorCode.NO_TEXT, "This HTML file has nothing to read aloud: it holds no text.")
    title = doc.title or doc.first_heading
    entries = _heading_entries(doc)
    if not entries:
        marks = find_marks(doc.blocks)
        doc.blocks = mark_headings(doc.blocks, marks)
        entries = nest(marks)
    doc.title = title or Path(name).stem
    return IngestedBook(
        title=title,
        authors=_meta(root, "author"),
        language=_language(root),
        chapters=build_chapters([Unit(doc, name=name)], entries),
        format=BookFormat.HTML,
    )


def _heading_entries(doc: DocumentText) -> list[Entry]:
    """Entries from h1-h6. The top level is the highest heading level used at least
    twice: a lone <h1> is the book's title, not its only chapter."""
    levels = Counter(block.level for block in doc.blocks if block.kind is BlockKind.HEADING)
    repeated = sorted(level for level, count in levels.items() if count >= 2)
    if not repeated:
        return []
    top = repeated[0]
    marks = [
        Mark(index, block.level, block.text.replace("\n", " "))
        for index, block in enumerate(doc.blocks)
        if block.kind is BlockKind.HEADING and top <= block.level <= top + 1
    ]
    first_top = next(index for index, mark in enumerate(marks) if mark.rank == top)
    return nest(marks[first_top:])


def _meta(root: etree._Element, name: str) -> list[str]:
    values = []
    for meta in root.iter("{*}meta", "meta"):
        if (meta.get("name") or "").lower() == name and (meta.get("content") or "").strip():
            values.append(" ".join((meta.get("content") or "").split()))
    return values


def _language(root: etree._Element) -> str:
    for element in (root, *root.iter("{*}body", "body")):
        lang = element.get("lang") or element.get(_XML_LANG)
        if lang and lang.strip():
            return lang.strip()
    for meta in root.iter("{*}meta", "meta"):
        if (meta.get("http-equiv") or "").lower() == "content-language" and meta.get("content"):
            return (meta.get("content") or "").split(",")[0].strip()
    return "und"
