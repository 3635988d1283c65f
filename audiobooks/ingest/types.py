"""What ingestion hands to the rest of the app: plain data, no Django."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class BookFormat(StrEnum):
    EPUB = "epub"
    PDF = "pdf"
    TXT = "txt"
    HTML = "html"


@dataclass(frozen=True)
class IngestedChapter:
    """One chapter, or one section of a chapter, as the reader will choose it.

    `text` is clean prose: paragraphs separated by one blank line, lines inside a
    paragraph (verse, addresses) by a single newline. `included` is the default
    selection; `reason` says why a chapter starts deselected ("" when included).

    A chapter too long to hear at one sitting (over about two hours), and a book with
    no chapters at all, come as consecutive sections of about 30 minutes: they share
    `group` and `group_title` (the chapter's title, or the book's) and are numbered by
    `section` from 1. A whole chapter has `section` 0. `group` counts chapters from 0
    in reading order, so the rows of one chapter are the rows with its `group`.
    """

    title: str
    text: str
    words: int
    chars: int
    included: bool = True
    reason: str = ""
    group: int = 0
    section: int = 0
    group_title: str = ""


@dataclass(frozen=True)
class IngestedBook:
    title: str
    authors: list[str]
    language: str  # BCP 47 tag as the book declares it; "und" when unknown
    chapters: list[IngestedChapter]
    format: BookFormat
    cover: bytes | None = None  # a JPEG or PNG of at most 1400 px (ingest.covers)
    cover_media_type: str | None = None
    cover_width: int = 0
    cover_height: int = 0
    # Creators who are not authors, as (name, MARC relator code): ("Ed Editor", "edt").
    contributors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(chapter.words for chapter in self.chapters)


@dataclass
class StreamedBook:
    """A book read and planned, whose chapters' text is produced one chapter at a time.

    Everything but the text is known up front: metadata, warnings and how many
    chapters there are. `chapters` yields them in order, once, and only inside the
    `open_book` block that gave this object; store each and let it go, and a book of
    any size costs the memory of its longest chapter.
    """

    title: str
    authors: list[str]
    language: str
    format: BookFormat
    chapter_count: int
    chapters: Iterator[IngestedChapter]
    cover: bytes | None = None  # a JPEG or PNG of at most 1400 px (ingest.covers)
    cover_media_type: str | None = None
    cover_width: int = 0
    cover_height: int = 0
    # Creators who are not authors, as (name, MARC relator code): ("Ed Editor", "edt").
    contributors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
