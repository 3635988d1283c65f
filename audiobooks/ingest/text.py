"""Plain-text books: detect the encoding, rebuild paragraphs, find chapter headings."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from .blocks import Block, BlockKind, DocumentText
from .chapters import Entry, Unit, build_chapters
from .cleaning import join_broken_words, vocabulary
from .encoding import SNIFF_BYTES, guess_decode
from .errors import ErrorCode, IngestError
from .headings import find_marks, heading_rank, mark_headings, nest
from .safety import MiB
from .types import BookFormat, IngestedBook

MAX_TEXT_BYTES = 64 * MiB
# More control characters than this and it isn't text.
MAX_CONTROL_SHARE = 0.01

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BLANK = re.compile(r"\n[ \t]*\n+")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[-–—\[(]?\s*\d{1,4}\s*[-–—\])]?\s*$", re.IGNORECASE)
_PG_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.IGNORECASE | re.MULTILINE)
_PG_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.IGNORECASE | re.MULTILINE)
_PG_FIELD = re.compile(r"^(Title|Author|Language):\s*(.+)$", re.MULTILINE)
LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "finnish": "fi", "swedish": "sv", "danish": "da",
    "norwegian": "no", "polish": "pl", "russian": "ru", "greek": "el", "latin": "la",
    "chinese": "zh", "japanese": "ja", "hungarian": "hu", "esperanto": "eo", "czech": "cs",
}  # fmt: skip


def read_text(path: Path, name: str) -> IngestedBook:
    with path.open("rb") as handle:
        data = handle.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"This text file is larger than {MAX_TEXT_BYTES // MiB} MB; we can't read it.",
        )
    text = decode_text(data)
    if len(_CONTROL.findall(text[:SNIFF_BYTES])) > MAX_CONTROL_SHARE * min(len(text), SNIFF_BYTES):
        raise IngestError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "This file isn't text, nor an ebook format we know. We can read EPUB, PDF, plain text (TXT) "
            "and HTML books.",
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header, body, licence = split_gutenberg(text)
    fields = {key.lower(): value.strip() for key, value in _PG_FIELD.findall(header)}
    blocks = paragraphs(body)
    marks = find_marks(blocks)
    title = fields.get("title") or Path(name).stem
    units = [Unit(DocumentText(mark_headings(blocks, marks), title=title), name=name)]
    entries = nest(marks)
    if header.strip():
        units.insert(0, _boilerplate(header, "Project Gutenberg header"))
        entries = [_shift(entry) for entry in entries]
    if licence.strip():
        units.append(_boilerplate(licence, "Project Gutenberg licence"))
    chapters = build_chapters(units, entries)
    if not any(chapter.words for chapter in chapters):
        raise IngestError(ErrorCode.NO_TEXT, "This text file has nothing to read aloud: it holds no words.")
    language = LANGUAGES.get(fields.get("language", "").split()[0].lower() if fields.get("language") else "")
    return IngestedBook(
        title=fields.get("title", ""),
        authors=[fields["author"]] if fields.get("author") else [],
        language=language or "und",
        chapters=chapters,
        format=BookFormat.TXT,
    )


def decode_text(data: bytes) -> str:
    """BOM, else strict UTF-8, else the best guess (see encoding.py)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    return guess_decode(data)


def split_gutenberg(text: str) -> tuple[str, str, str]:
    """(header, body, licence) around Project Gutenberg's START/END markers; the
    boilerplate is kept as deselected chapters, never thrown away."""
    start = _PG_START.search(text)
    end = _PG_END.search(text, start.end() if start else 0)
    if not start or not end:
        return "", text, ""
    return text[: start.end()], text[start.end() : end.start()], text[end.start() :]


def paragraphs(text: str) -> list[Block]:
    """Blocks from blank-line-separated chunks. Hard-wrapped lines are joined (mending
    words hyphenated at a line end); a heading on a chunk's first line stands alone."""
    words, compounds = vocabulary(text)
    blocks = []
    for chunk in _BLANK.split(text.replace("\f", "\n\n")):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        lines = [line for line in lines if not _PAGE_NUMBER.match(line)] if len(lines) == 1 else lines
        if not lines:
            continue
        if len(lines) > 1 and heading_rank(lines[0]) is not None:
            blocks.append(Block(lines[0], BlockKind.TEXT))
            lines = lines[1:]
        joined = join_broken_words("\n".join(lines), words, compounds)
        blocks.append(Block(" ".join(joined.split("\n")), BlockKind.TEXT))
    return blocks


def _boilerplate(text: str, title: str) -> Unit:
    blocks = paragraphs(text)
    return Unit(DocumentText(blocks, title=title), types={"licence"})


def _shift(entry: Entry) -> Entry:
    entry.unit += 1
    for child in entry.children:
        _shift(child)
    return entry
