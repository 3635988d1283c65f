"""Plain-text books, streamed: detect the encoding, rebuild paragraphs, find chapter headings.

The file is read twice, line by line, never whole: a first pass settles the encoding,
finds Project Gutenberg's markers and learns the book's words (to mend words
hyphenated at line ends); the second stores paragraphs in the spool.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .chapters import Entry, PlanOptions, plan_chapters
from .cleaning import Vocabulary, cut_point
from .encoding import SNIFF_BYTES, guess_encoding
from .errors import ErrorCode, IngestError
from .headings import heading_rank
from .marks import Mark, dropped_candidates, find_marks, mark_headings, nest
from .reading import BookReading
from .safety import MiB
from .spool import BlockSpool, Joint
from .types import BookFormat

MAX_TEXT_BYTES = 256 * MiB
# More control characters than this and it isn't text.
MAX_CONTROL_SHARE = 0.01
# Lines are read in pieces of at most this many characters; a paragraph is stored in
# pieces once it grows past this many.
MAX_LINE_CHARS = 16_384
MAX_CHUNK_CHARS = 65_536
# Text before the first heading with no more words than this is a title page.
FRONT_MATTER_WORDS = 150
_VOCABULARY_BATCH_CHARS = 1_000_000

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[-–—\[(]?\s*\d{1,4}\s*[-–—\])]?\s*$", re.IGNORECASE)
_PG_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_PG_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_PG_FIELD = re.compile(r"^(Title|Author|Language):\s*(.+)$")
_PG_FIELD_LINES = 2_000
_BY_LINE = re.compile(r"^by\s+(.{2,60})$", re.IGNORECASE)
MAX_TITLE_CHARS = 100
LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "finnish": "fi", "swedish": "sv", "danish": "da",
    "norwegian": "no", "polish": "pl", "russian": "ru", "greek": "el", "latin": "la",
    "chinese": "zh", "japanese": "ja", "hungarian": "hu", "esperanto": "eo", "czech": "cs",
}  # fmt: skip


@dataclass
class _Survey:
    """What the first pass learned."""

    encoding: str
    errors: str
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    fields: dict[str, str] = field(default_factory=dict)
    start_line: int | None = None  # Project Gutenberg's START marker
    end_line: int | None = None  # ...and its END marker


def read_text(path: Path, name: str, spool: BlockSpool) -> BookReading:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"This text file is larger than {MAX_TEXT_BYTES // MiB} MB; we can't read it.",
        )
    survey = _survey(path)
    gutenberg = survey.start_line is not None and survey.end_line is not None
    fields = survey.fields if gutenberg else {}
    units = {
        "header": ("Project Gutenberg header", {"licence"}),
        "body": ("", set()),
        "licence": ("Project Gutenberg licence", {"licence"}),
    }
    current = ""
    opening = _Opening()
    paragraphs = _Paragraphs(spool, survey.vocabulary)
    for number, line in enumerate(_lines(path, survey.encoding, survey.errors)):
        part = _part_of(number, survey) if gutenberg else "body"
        if part != current:
            paragraphs.end()
            if current:
                spool.end_unit(spool.units[-1])
            title, types = units[part]
            spool.begin_unit(name, types=types).title = title
            current = part
        paragraphs.line(line)
        if part == "body":
            opening.line(line)
    paragraphs.end()
    if current:
        spool.end_unit(spool.units[-1])
    body = next((unit for unit in spool.units if not unit.title), None)
    if body is None:  # an empty file, or nothing between Gutenberg's markers
        body = spool.begin_unit(name)
        spool.end_unit(body)
    title, authors = opening.title()
    title = fields.get("title") or title
    authors = [fields["author"]] if fields.get("author") else authors
    body.title = title or Path(name).stem
    body_index = spool.units.index(body)
    marks = find_marks(spool, body.start, body.end)
    mark_headings(spool, marks)
    entries = nest(marks, body_index)
    if marks and not gutenberg and _looks_like_front_matter(spool, marks, body.start):
        entries.insert(0, Entry("Front matter", body_index, body.start, {"title-and-contents"}))
    plan = plan_chapters(spool, entries, PlanOptions(headingless=not entries))
    if not plan.chapters:
        raise IngestError(ErrorCode.NO_TEXT, "This text file has nothing to read aloud: it holds no words.")
    language = fields.get("language", "").split()
    return BookReading(
        title=title,
        authors=authors,
        language=LANGUAGES.get(language[0].lower(), "und") if language else "und",
        format=BookFormat.TXT,
        plan=plan,
        warnings=list(plan.warnings),
    )


def _part_of(number: int, survey: _Survey) -> str:
    if number <= (survey.start_line or 0):
        return "header"
    return "body" if number < (survey.end_line or 0) else "licence"


def _survey(path: Path) -> _Survey:
    """Settle the encoding (BOM, else strict UTF-8, else a guess), refuse binary data, and
    note Gutenberg's markers and fields and the book's words."""
    with path.open("rb") as handle:
        head = handle.read(4)
    encoding = next((codec for bom, codec in _BOMS if head.startswith(bom)), None)
    survey = _Survey(encoding or "utf-8", "replace" if encoding else "strict")
    try:
        _scan(path, survey)
    except _NotUtf8 as failure:
        survey = _Survey(failure.encoding, "replace")
        _scan(path, survey)
    return survey


class _NotUtf8(Exception):
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding


def _scan(path: Path, survey: _Survey) -> None:
    sniffed = 0
    controls = 0
    batch: list[str] = []
    batched = 0
    for number, line in enumerate(_lines(path, survey.encoding, survey.errors)):
        if sniffed < SNIFF_BYTES:
            controls += len(_CONTROL.findall(line))
            sniffed += len(line) + 1
            if sniffed >= SNIFF_BYTES:
                _refuse_binary(controls, sniffed)
        if line.startswith("***"):
            if survey.start_line is None and _PG_START.match(line):
                survey.start_line = number
            elif survey.start_line is not None and survey.end_line is None and _PG_END.match(line):
                survey.end_line = number
        elif survey.start_line is None and number < _PG_FIELD_LINES and ":" in line[:10]:
            match = _PG_FIELD.match(line.strip())
            if match:
                survey.fields[match.group(1).lower()] = match.group(2).strip()
        batch.append(line)
        batched += len(line)
        if batched > _VOCABULARY_BATCH_CHARS:
            survey.vocabulary.add("\n".join(batch))
            batch, batched = [], 0
    survey.vocabulary.add("\n".join(batch))
    _refuse_binary(controls, sniffed)


def _refuse_binary(controls: int, sniffed: int) -> None:
    if sniffed and controls > MAX_CONTROL_SHARE * sniffed:
        raise IngestError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "This file isn't text, nor an ebook format we know. We can read EPUB, PDF, plain text (TXT) "
            "and HTML books.",
        )


def _lines(path: Path, encoding: str, errors: str) -> Iterator[str]:
    """The file's lines without their line ends ("\\r\\n" and "\\r" count as "\\n"; a form
    feed ends a paragraph). A line longer than `MAX_LINE_CHARS` comes as several, cut at
    spaces, which changes nothing once a paragraph's lines are joined."""
    with path.open("rb") as raw:
        stream = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=None)
        buffer = ""
        try:
            while piece := stream.readline(MAX_LINE_CHARS):
                buffer += piece
                if buffer.endswith("\n"):
                    yield from _bounded(buffer[:-1])
                    buffer = ""
                elif len(buffer) >= MAX_LINE_CHARS:
                    end, start = cut_point(buffer, MAX_LINE_CHARS)
                    yield from _form_feeds(buffer[:end])
                    buffer = buffer[start:]
        except UnicodeDecodeError:
            raise _NotUtf8(guess_encoding(_sample_before(raw))) from None
        if buffer:
            yield from _bounded(buffer)


def _sample_before(raw: io.BufferedReader) -> bytes:
    """Bytes up to where decoding stopped, to guess the real encoding from."""
    end = raw.tell()
    raw.seek(max(0, end - SNIFF_BYTES))
    return raw.read(end - raw.tell())


def _bounded(line: str) -> Iterator[str]:
    while len(line) > MAX_LINE_CHARS:
        end, start = cut_point(line, MAX_LINE_CHARS)
        yield from _form_feeds(line[:end])
        line = line[start:]
    yield from _form_feeds(line)


def _form_feeds(line: str) -> Iterator[str]:
    if "\f" not in line:
        yield line
        return
    for index, part in enumerate(line.split("\f")):
        if index:
            yield ""
        yield part


class _Paragraphs:
    """Blank-line-separated chunks of lines into paragraphs. Hard-wrapped lines are
    joined (mending words hyphenated at a line end); a heading on a chunk's first line
    stands alone; a chunk that is only a page number goes."""

    def __init__(self, spool: BlockSpool, vocabulary: Vocabulary) -> None:
        self.spool = spool
        self.vocabulary = vocabulary
        self.lines: list[str] = []
        self.size = 0
        self.joint = Joint.PARAGRAPH  # how the next stored piece joins the last

    def line(self, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            self.end()
            return
        self.lines.append(stripped)
        self.size += len(stripped)
        if self.size > MAX_CHUNK_CHARS:
            # A paragraph this long is stored in pieces; a line ending in a hyphen waits,
            # as the word it breaks goes on in the next line.
            held = [self.lines.pop()] if self.lines[-1].endswith(("-", "\u2010", "¬")) else []
            self._store(self.lines)
            self.joint = Joint.SPACE
            self.lines = held
            self.size = sum(len(line) for line in held)

    def end(self) -> None:
        lines, self.lines, self.size = self.lines, [], 0
        if lines and not (len(lines) == 1 and self.joint is Joint.PARAGRAPH and _PAGE_NUMBER.match(lines[0])):
            self._store(lines)
        self.joint = Joint.PARAGRAPH

    def _store(self, lines: list[str]) -> None:
        if not lines:
            return
        if self.joint is Joint.PARAGRAPH and len(lines) > 1 and heading_rank(lines[0]) is not None:
            self.spool.add(lines[0])
            lines = lines[1:]
        joined = self.vocabulary.mend("\n".join(lines))
        self.spool.add(" ".join(joined.split("\n")), joint=self.joint)


class _Opening:
    """The body's first two paragraphs, as lines, while they are short enough to be a
    title ("MOBY-DICK; / or, THE WHALE.") and a "by …" line."""

    def __init__(self) -> None:
        self.chunks: list[list[str]] = [[]]
        self.done = False

    def line(self, line: str) -> None:
        if self.done:
            return
        stripped = line.strip()
        if stripped:
            self.chunks[-1].append(stripped)
            self.done = len(self.chunks[-1]) > 2
        elif self.chunks[-1]:
            self.chunks.append([])
            self.done = len(self.chunks) > 2

    def title(self) -> tuple[str, list[str]]:
        """The title, when the first lines stand alone and read like one, and the author."""
        chunks = [chunk for chunk in self.chunks if chunk]
        if not chunks or len(chunks[0]) > 2:
            return "", []
        first = chunks[0]
        title = " ".join(first).strip()
        if (
            len(title) > MAX_TITLE_CHARS
            or not any(ch.isalpha() for ch in title)
            or any(heading_rank(line) is not None for line in first)
            or title.endswith(("!", "?", ",", ";"))
            or _BY_LINE.match(title)
        ):
            return "", []
        authors = []
        if len(chunks) > 1 and len(chunks[1]) == 1 and (by := _BY_LINE.match(chunks[1][0])):
            authors = [by.group(1).strip().rstrip(".")]
        return title.rstrip(".;:").strip(), authors


def _looks_like_front_matter(spool: BlockSpool, marks: list[Mark], start: int) -> bool:
    """Text before the first heading that is a title page and a printed contents list:
    few words, or heading-shaped lines that were no chapters."""
    first = marks[0].block
    if first <= start:
        return False
    words = sum(spool.words[start:first])
    return words <= FRONT_MATTER_WORDS or dropped_candidates(spool, marks, start, first)
