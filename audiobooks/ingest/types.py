"""What ingestion hands to the rest of the app: plain, frozen data, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BookFormat(StrEnum):
    EPUB = "epub"
    PDF = "pdf"
    TXT = "txt"
    HTML = "html"


@dataclass(frozen=True)
class IngestedChapter:
    """One chapter as the reader will choose it.

    `text` is clean prose: paragraphs separated by one blank line, lines inside a
    paragraph (verse, addresses) by a single newline. `included` is the default
    selection; `reason` says why a chapter starts deselected ("" when included).
    """

    title: str
    text: str
    words: int
    chars: int
    included: bool = True
    reason: str = ""


@dataclass(frozen=True)
class IngestedBook:
    title: str
    authors: list[str]
    language: str  # BCP 47 tag as the book declares it; "und" when unknown
    chapters: list[IngestedChapter]
    format: BookFormat
    cover: bytes | None = None
    cover_media_type: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(chapter.words for chapter in self.chapters)
