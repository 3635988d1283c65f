"""Plain-text books, streamed: detect the encoding, rebuild paragraphs, find chapter headings.

The file is read twice in pieces of a megabyte, never whole: a first pass settles
the encoding, finds Project Gutenberg's markers and learns the book's words (to mend
words hyphenated at line ends); the second stores paragraphs in the spool.
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
READ_CHARS = 1 << 20
# More control characters than this and it isn't text.
MAX_CONTROL_SHARE = 0.01
# A paragraph (text without a blank line) longer than this is stored in pieces.
MAX_PARAGRAPH_CHARS = 65_536
# Text before the first heading with no more words than this is a title page.
FRONT_MATTER_WORDS = 150
# Project Gutenberg's Title/Author/Language lines are in its header, near the top.
_FIELD_CHARS = 2 * MiB
MAX_TITLE_CHARS = 100

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
_BY_LINE = re.compile(r"^by\s+(.{2,60})$", re.IGNORECASE)
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
    header_end: int | None = None  # where Project Gutenberg's START line ends...
    licence_start: int | None = None  # ...and its END line starts, in characters

    @property
    def gutenberg(self) -> bool:
        return self.header_end is not None and self.licence_start is not None


def read_text(path: Path, name: str, spool: BlockSpool) -> BookReading:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"This text file is larger than {MAX_TEXT_BYTES // MiB} MB; we can't read it.",
        )
    survey = _survey(path)
    fields = survey.fields if survey.gutenberg else {}
    paragraphs = _Paragraphs(spool, survey.vocabulary)
    if survey.gutenberg:
        spool.begin_unit(name, types={"licence"}).title = "Project Gutenberg header"
        cuts = [survey.header_end or 0, survey.licence_start or 0]
    else:
        cuts = []
    body = spool.begin_unit(name) if not cuts else None
    for piece, at_cut in _cut(_chunks(path, survey.encoding, survey.errors), cuts):
        paragraphs.feed(piece)
        if at_cut:
            paragraphs.end()
            spool.end_unit(spool.units[-1])
            if body is None:
                body = spool.begin_unit(name)
                paragraphs.opening = _Opening()
            else:
                spool.begin_unit(name, types={"licence"}).title = "Project Gutenberg licence"
    paragraphs.end()
    spool.end_unit(spool.units[-1])
    if body is None:  # the file ends inside the Gutenberg header
        body = spool.begin_unit(name)
        spool.end_unit(body)
    title, authors = paragraphs.opening.title()
    title = fields.get("title") or title
    authors = [fields["author"]] if fields.get("author") else authors
    body.title = title or Path(name).stem
    body_index = spool.units.index(body)
    marks = find_marks(spool, body.start, body.end)
    mark_headings(spool, marks)
    entries = nest(marks, body_index)
    if marks and not survey.gutenberg and _looks_like_front_matter(spool, marks, body.start):
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
    position = 0  # where `lines` starts in the text
    tail = ""
    sniffed = False
    for chunk in _chunks(path, survey.encoding, survey.errors):
        if not sniffed:
            _refuse_binary(chunk[:SNIFF_BYTES])
            sniffed = True
        text = tail + chunk
        end = text.rfind("\n") + 1 or len(text)  # whole lines, so a marker is never cut
        _survey_lines(survey, text[:end], position)
        position += end
        tail = text[end:]
    _survey_lines(survey, tail, position)


def _survey_lines(survey: _Survey, lines: str, position: int) -> None:
    if survey.header_end is None:
        start = _PG_START.search(lines)
        header = lines[: start.start()] if start else lines
        if position < _FIELD_CHARS:
            survey.fields.update((key.lower(), value.strip()) for key, value in _PG_FIELD.findall(header))
        if start:
            survey.header_end = position + start.end()
    if survey.header_end is not None and survey.licence_start is None:
        end = _PG_END.search(lines, max(0, survey.header_end - position))
        if end:
            survey.licence_start = position + end.start()
    survey.vocabulary.add(lines)


def _refuse_binary(sample: str) -> None:
    if len(_CONTROL.findall(sample)) > MAX_CONTROL_SHARE * len(sample):
        raise IngestError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "This file isn't text, nor an ebook format we know. We can read EPUB, PDF, plain text (TXT) "
            "and HTML books.",
        )


def _chunks(path: Path, encoding: str, errors: str) -> Iterator[str]:
    """The decoded text in pieces, "\\r\\n" and "\\r" read as "\\n"."""
    with path.open("rb") as raw:
        stream = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=None)
        try:
            while chunk := stream.read(READ_CHARS):
                yield chunk
        except UnicodeDecodeError:
            raise _NotUtf8(guess_encoding(_sample_before(raw))) from None


def _sample_before(raw: io.BufferedReader) -> bytes:
    """Bytes up to where decoding stopped, to guess the real encoding from."""
    end = raw.tell()
    raw.seek(max(0, end - SNIFF_BYTES))
    return raw.read(end - raw.tell())


def _cut(chunks: Iterator[str], cuts: list[int]) -> Iterator[tuple[str, bool]]:
    """The text in pieces, each piece flagged when a cut (a character offset) ends it."""
    position = 0
    pending = list(cuts)
    for chunk in chunks:
        rest = chunk
        while pending and pending[0] <= position + len(rest):
            at = pending.pop(0) - position
            yield rest[:at], True
            rest, position = rest[at:], position + at
        if rest:
            yield rest, False
        position += len(rest)


class _Paragraphs:
    """Blank-line-separated text into paragraphs. Hard-wrapped lines are joined (mending
    words hyphenated at a line end); a heading on a paragraph's first line stands alone;
    a paragraph that is only a page number goes."""

    def __init__(self, spool: BlockSpool, vocabulary: Vocabulary) -> None:
        self.spool = spool
        self.vocabulary = vocabulary
        self.carry = ""
        self.joint = Joint.PARAGRAPH  # how the next stored piece joins the last
        self.opening = _Opening()

    def feed(self, text: str) -> None:
        parts = _BLANK.split(self.carry + text.replace("\f", "\n\n"))
        self.carry = parts.pop()
        for part in parts:
            self._paragraph(part)
        while len(self.carry) > MAX_PARAGRAPH_CHARS:
            # No blank line for this long: store it in pieces, cut between lines (else
            # at a space), keeping a line that ends in a hyphen with the next.
            cut = self.carry.rfind("\n", 0, MAX_PARAGRAPH_CHARS)
            while cut > 0 and self.carry[:cut].rstrip().endswith(("-", "\u2010", "¬")):
                cut = self.carry.rfind("\n", 0, cut)
            end, start = (cut, cut + 1) if cut > 0 else cut_point(self.carry, MAX_PARAGRAPH_CHARS)
            self._paragraph(self.carry[:end], continues=Joint.SPACE if start > end else Joint.GLUED)
            self.carry = self.carry[start:]

    def end(self) -> None:
        self._paragraph(self.carry)
        self.carry = ""

    def _paragraph(self, text: str, *, continues: Joint | None = None) -> None:
        """Store a paragraph; `continues` says how the next piece joins it when the
        paragraph goes on past this piece."""
        lines = [line for line in (line.strip() for line in text.split("\n")) if line]
        joint = self.joint
        self.joint = continues or Joint.PARAGRAPH
        if not lines:
            return
        self.opening.paragraph(lines)
        if joint is Joint.PARAGRAPH and not continues and len(lines) == 1 and _PAGE_NUMBER.match(lines[0]):
            return
        if joint is Joint.PARAGRAPH and len(lines) > 1 and heading_rank(lines[0]) is not None:
            self.spool.add(lines[0])
            lines = lines[1:]
        joined = self.vocabulary.mend("\n".join(lines))
        self.spool.add(joined.replace("\n", " "), joint=joint)


class _Opening:
    """The body's first two paragraphs, as lines, while they are short enough to be a
    title ("MOBY-DICK; / or, THE WHALE.") and a "by …" line."""

    def __init__(self) -> None:
        self.chunks: list[list[str]] = []

    def paragraph(self, lines: list[str]) -> None:
        if len(self.chunks) < 2:
            self.chunks.append(lines[:3])

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
