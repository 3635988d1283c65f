"""What a format's reader hands back: the book's metadata and its chapter plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from .chapters import ChapterPlan
from .types import BookFormat


@dataclass
class BookReading:
    title: str
    authors: list[str]
    language: str  # BCP 47 tag as the book declares it; "und" when unknown
    format: BookFormat
    plan: ChapterPlan
    cover: bytes | None = None
    cover_media_type: str | None = None
    contributors: list[tuple[str, str]] = field(default_factory=list)  # (name, role), not authors
    warnings: list[str] = field(default_factory=list)
