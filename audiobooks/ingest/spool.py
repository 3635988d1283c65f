"""A book's paragraphs on their way from the file to its chapters, kept on disk.

Every reader turns its format into blocks (paragraphs, headings, notes) in reading
order and appends them here. Their text goes to a temporary file as it is produced;
only a few numbers per block stay in memory (kind, size, how it joins the block
before it). Chapters are planned from those numbers alone, then read back one at a
time, so a 200 MB book costs tens of MB of memory, not gigabytes.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from .cleaning import clean_paragraph, count_clean_words, cut_point
from .errors import ErrorCode, IngestError
from .headings import MAX_HEADING_CHARS, heading_rank

# A paragraph longer than this is stored as several blocks cut after sentences, so a
# chapter can be divided into sections anywhere near where it should be.
MAX_BLOCK_CHARS = 4_000
# About 28 bytes of memory each; a book of more paragraphs than this is not prose.
MAX_BLOCKS = 3_000_000
# Offsets and sizes are kept as unsigned 32-bit numbers, with room to add to them.
_MAX_SPOOL_BYTES = 2**31


class BlockKind(IntEnum):
    TEXT = 0
    HEADING = 1
    NOTE = 2  # a footnote or endnote: kept, but not read inside the chapter
    HIDDEN = 3  # read, then found to be outside a web page's main content: never spoken


class Joint(IntEnum):
    """How a block attaches to the one before it."""

    PARAGRAPH = 0
    SPACE = 1  # the same paragraph, cut after a sentence or at a space
    LINE = 2  # the same paragraph, cut at a line break (verse)
    GLUED = 3  # the same paragraph, cut inside a run of characters with no space


SEPARATORS = ("\n\n", " ", "\n", "")
SPOKEN = frozenset({BlockKind.TEXT, BlockKind.HEADING})


@dataclass
class Unit:
    """One source document: an EPUB spine item, or a whole TXT, HTML or PDF file (or a
    part of one, like a Project Gutenberg header). Block positions are absolute."""

    name: str
    start: int
    end: int = 0
    linear: bool = True
    # Semantics of the whole document: its own, plus what landmarks or the guide say.
    types: set[str] = field(default_factory=set)
    title: str = ""
    # For each requested anchor id: the first block at or after it, and its semantics.
    anchors: dict[str, int] = field(default_factory=dict)
    anchor_types: dict[str, set[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.end <= self.start


class BlockSpool:
    """Blocks in reading order: text on disk, sizes in memory."""

    def __init__(self, directory: Path | str | None = None) -> None:
        # Closed by close() (or the with block): the spool outlives any one call.
        self._file = tempfile.TemporaryFile(dir=directory, prefix="ebv-blocks-")  # noqa: SIM115
        self.kinds = bytearray()
        self.levels = bytearray()  # 1-6 for headings from markup
        self.ranks = bytearray()  # heading_rank of a short text block, 0 for none
        self.joints = bytearray()
        self.chars = array("I")
        self.words = array("I")
        self.offsets = array("I", [0])  # where each block's UTF-8 text starts; one past the end last
        self.units: list[Unit] = []

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> BlockSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.kinds)

    # --- writing -------------------------------------------------------------------------

    def begin_unit(self, name: str, *, linear: bool = True, types: set[str] | None = None) -> Unit:
        unit = Unit(name=name, start=len(self), linear=linear, types=set(types or ()))
        self.units.append(unit)
        return unit

    def end_unit(self, unit: Unit) -> None:
        unit.end = len(self)

    def add(
        self, text: str, kind: BlockKind = BlockKind.TEXT, level: int = 0, *, joint: Joint = Joint.PARAGRAPH
    ) -> int:
        """Clean and store one paragraph (or, with a `joint`, the continuation of the last
        one); returns how many blocks it became (0 when it held only whitespace)."""
        text = clean_paragraph(text)
        stored = 0
        while text:
            if len(text) <= MAX_BLOCK_CHARS:
                piece, rest, next_joint = text, "", Joint.PARAGRAPH
            else:
                end, start = cut_point(text, MAX_BLOCK_CHARS)
                piece, rest = text[:end], text[start:]
                gap = text[end:start]
                next_joint = Joint.GLUED if not gap else Joint.LINE if "\n" in gap else Joint.SPACE
            self._append(piece, kind, level, joint)
            stored += 1
            text, joint = rest, next_joint
        return stored

    def _append(self, text: str, kind: BlockKind, level: int, joint: Joint) -> None:
        if len(self.kinds) >= MAX_BLOCKS:
            raise IngestError(
                ErrorCode.TOO_LARGE,
                f"This book breaks into more than {MAX_BLOCKS:,} paragraphs, far more than any book "
                "has, so we stopped reading it.",
            )
        data = text.encode("utf-8", "surrogatepass")
        end = self.offsets[-1] + len(data)
        if end > _MAX_SPOOL_BYTES:
            raise IngestError(ErrorCode.TOO_LARGE, "This book holds more text than we can read.")
        self._file.write(data)
        rank = 0
        if kind in SPOKEN and joint is Joint.PARAGRAPH and len(text) <= MAX_HEADING_CHARS:
            rank = heading_rank(text) or 0
        self.kinds.append(kind)
        self.levels.append(level)
        self.ranks.append(rank)
        self.joints.append(joint)
        self.chars.append(len(text))
        self.words.append(count_clean_words(text))
        self.offsets.append(end)

    def mark(self) -> int:
        return len(self)

    def rollback(self, mark: int) -> None:
        """Forget every block from `mark` on (a document being read again another way)."""
        for column in (self.kinds, self.levels, self.ranks, self.joints, self.chars, self.words):
            del column[mark:]
        del self.offsets[mark + 1 :]
        self._file.seek(self.offsets[-1])
        self._file.truncate()

    def set_kind(self, index: int, kind: BlockKind) -> None:
        self.kinds[index] = kind

    # --- reading -------------------------------------------------------------------------

    def text(self, index: int) -> str:
        return self._read(self.offsets[index], self.offsets[index + 1]).decode("utf-8", "surrogatepass")

    def texts(self, start: int, end: int) -> Iterator[tuple[int, str]]:
        """(index, text) of blocks start..end-1, read from disk in one go."""
        if start >= end:
            return
        base = self.offsets[start]
        data = self._read(base, self.offsets[end])
        for index in range(start, end):
            piece = data[self.offsets[index] - base : self.offsets[index + 1] - base]
            yield index, piece.decode("utf-8", "surrogatepass")

    def _read(self, start: int, end: int) -> bytes:
        self._file.flush()
        chunks = []
        while start < end:
            chunk = os.pread(self._file.fileno(), end - start, start)
            if not chunk:
                raise OSError("the block spool ended early")
            chunks.append(chunk)
            start += len(chunk)
        return b"".join(chunks)

    def first_of_kind(self, start: int, end: int, kind: BlockKind) -> int | None:
        found = self.kinds.find(kind, start, end)
        return None if found < 0 else found
