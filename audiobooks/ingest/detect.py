"""Pick a reader by what the bytes are, not by what the file is called."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .chapters import emit_chapters
from .covers import Cover, CoverRefused, normalise_cover
from .errors import ErrorCode, IngestError
from .reading import BookReading
from .safety import MiB
from .spool import BlockSpool
from .types import IngestedBook, IngestedChapter, StreamedBook

logger = logging.getLogger(__name__)

# Larger than any real ebook upload; the web tier should refuse sooner.
MAX_FILE_BYTES = 300 * MiB
HEAD_BYTES = 8192

# Files people upload by mistake, named so the message can say what they sent.
_KNOWN_BINARIES = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"ID3", "an MP3 audio file"),
)
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")


def ingest_file(path: Path, *, filename: str | None = None) -> IngestedBook:
    """Read the ebook at `path` whole. `filename` is the name the user gave it, used for
    the title when the book has none, and in messages. For a book of any size, prefer
    `open_book`, which hands over one chapter at a time."""
    with open_book(path, filename=filename) as book:
        return IngestedBook(
            title=book.title,
            authors=book.authors,
            language=book.language,
            chapters=list(book.chapters),
            format=book.format,
            cover=book.cover,
            cover_media_type=book.cover_media_type,
            cover_width=book.cover_width,
            cover_height=book.cover_height,
            contributors=book.contributors,
            warnings=book.warnings,
        )


@contextmanager
def open_book(path: Path, *, filename: str | None = None) -> Iterator[StreamedBook]:
    """Read and plan the ebook at `path`; inside the block, its chapters are produced one
    at a time. Every refusal (`IngestError`) happens before the first chapter."""
    name = filename or path.name
    with BlockSpool() as spool:
        try:
            reading = _read(path, name, spool)
        except IngestError:
            raise
        except Exception as exc:  # the boundary: no input may end in a traceback for the user
            raise _crashed(name) from exc
        if not reading.plan.chapters:  # every reader checks; this is the backstop
            raise IngestError(
                ErrorCode.NO_TEXT, "This book has nothing to read aloud: we found no words in it."
            )
        cover = _cover(reading)
        title = reading.title or Path(name).stem.replace("_", " ").strip() or "Untitled"
        yield StreamedBook(
            title=title,
            authors=reading.authors,
            language=reading.language,
            format=reading.format,
            chapter_count=len(reading.plan.chapters),
            chapters=_guarded(_retitled(emit_chapters(spool, reading.plan), title), name),
            cover=cover.data if cover else None,
            cover_media_type=cover.media_type if cover else None,
            cover_width=cover.width if cover else 0,
            cover_height=cover.height if cover else 0,
            contributors=reading.contributors,
            warnings=reading.warnings,
        )


def _cover(reading: BookReading) -> Cover | None:
    """The book's picture made fit for audio files and pages; a bad one is a warning, never a refusal."""
    if not reading.cover:
        return None
    try:
        return normalise_cover(reading.cover)
    except CoverRefused as refused:
        reading.warnings.append(f"{refused.message} The book is read without it.")
    except Exception:  # a picture must never stop a book: whatever the decoders raise, go on without it
        logger.warning("the cover could not be converted", exc_info=True)
        reading.warnings.append("The cover image could not be read, so the book is read without it.")
    return None


# What may stand between a repeated book title and the chapter's own: "Leaves of Grass — Inscriptions".
_TITLE_SEPARATOR = r"\s*(?:[—–:|/.,]|-{1,2})\s*"


def without_book_title(title: str, book_title: str) -> str:
    """`title` less a leading repeat of the book's title and a separator, when a title is left."""
    words = book_title.split()
    if not words:
        return title
    pattern = r"\s+".join(re.escape(word) for word in words) + _TITLE_SEPARATOR + r"(\S.*)"
    found = re.fullmatch(pattern, title.strip(), flags=re.IGNORECASE | re.DOTALL)
    return found.group(1) if found else title


def _retitled(chapters: Iterator[IngestedChapter], book_title: str) -> Iterator[IngestedChapter]:
    for chapter in chapters:
        yield replace(
            chapter,
            title=without_book_title(chapter.title, book_title),
            group_title=without_book_title(chapter.group_title, book_title) if chapter.group_title else "",
        )


def _guarded(chapters: Iterator[IngestedChapter], name: str) -> Iterator[IngestedChapter]:
    try:
        yield from chapters
    except Exception as exc:
        raise _crashed(name) from exc


def _crashed(name: str) -> IngestError:
    logger.warning("ingestion crashed on %s", name, exc_info=True)
    return IngestError(
        ErrorCode.UNREADABLE,
        "Something in this file stopped us from reading it. It may be damaged; please try "
        "another copy, or another format of the book.",
    )


def _read(path: Path, name: str, spool: BlockSpool) -> BookReading:
    size = path.stat().st_size
    if size == 0:
        raise IngestError(ErrorCode.EMPTY_FILE, "This file is empty (0 bytes). Please upload it again.")
    if size > MAX_FILE_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"This file is {size / MiB:,.0f} MB; we accept books up to {MAX_FILE_BYTES // MiB} MB.",
        )
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if head.startswith(b"PK"):
        from .epub import read_epub

        return read_epub(path, head, spool)
    if b"%PDF-" in head[:1024]:
        from .pdf import read_pdf

        return read_pdf(path, name, spool)
    for magic, kind in _KNOWN_BINARIES:
        if head.startswith(magic):
            raise _unsupported(f"This file is {kind}, not an ebook.")
    if b"BOOKMOBI" in head[60:68]:
        raise _unsupported("This is a Kindle (MOBI/AZW) book, which we can't read.")
    if _looks_like_html(head, name):
        from .html import read_html

        return read_html(path, name, spool)
    from .text import read_text

    return read_text(path, name, spool)


def _looks_like_html(head: bytes, name: str) -> bool:
    sample = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    sample = sample.replace(b"\x00", b"")  # UTF-16 markup reads fine once its NULs go
    if any(marker in sample[:1024] for marker in _HTML_MARKERS):
        return True
    return name.lower().endswith((".html", ".htm", ".xhtml")) and sample.startswith(b"<")


def _unsupported(what: str) -> IngestError:
    return IngestError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"{what} We can read EPUB, PDF, plain text (TXT) and HTML books.",
    )
