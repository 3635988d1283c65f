"""`manage.py inspect_book FILE [--json]`: what ingestion makes of an ebook, without storing it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audiobooks.ingest import IngestedBook, IngestError, open_book
from ebookvoice.logs import logging_for_command

# Exit status for a file ingestion refuses (argparse uses 2 for bad usage, too: both mean
# "this input can't be used").
BAD_INPUT = 2


class Command(BaseCommand):
    help = (
        "Ingest an EPUB, PDF, TXT or HTML file and print its metadata and chapters (index from 0, "
        "title, words, characters, included or excluded and why; the sections of a divided chapter "
        "under it), without touching the database. "
        "--json prints one JSON object. A file that can't be ingested prints one line to stderr "
        "and exits with status 2."
    )

    # It reads one file and touches nothing else, so project checks would only slow it down.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the ebook to inspect")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file", returncode=BAD_INPUT)
        try:
            # A damaged file's parser warnings stay out of the one-line answer (-v 2 shows them).
            with logging_for_command(int(options["verbosity"])):
                book = _read(path)
        except IngestError as error:
            raise CommandError(
                f"{path.name}: {error.message} [{error.code.value}]", returncode=BAD_INPUT
            ) from error
        if options["json"]:
            self.stdout.write(json.dumps(as_json(book), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(as_text(book))


def _read(path: Path) -> IngestedBook:
    """The book as the app stores it (`open_book`, one chapter at a time), each chapter's
    text let go once counted, so any book accepted can be inspected in bounded memory."""
    with open_book(path) as book:
        return IngestedBook(
            title=book.title,
            authors=book.authors,
            language=book.language,
            chapters=[replace(chapter, text="") for chapter in book.chapters],
            format=book.format,
            cover_media_type=book.cover_media_type,
            cover_width=book.cover_width,
            cover_height=book.cover_height,
            warnings=book.warnings,
        )


def as_json(book: IngestedBook) -> dict[str, Any]:
    return {
        "title": book.title,
        "authors": book.authors,
        "language": book.language,
        "words": book.words,
        # The cover as the app stores it (converted, at most 1400 px), or None when the book has none.
        "cover": (
            {"media_type": book.cover_media_type, "width": book.cover_width, "height": book.cover_height}
            if book.cover_media_type
            else None
        ),
        "warnings": book.warnings,
        "chapters": [
            {
                "index": index,
                "title": chapter.title,
                "words": chapter.words,
                "chars": chapter.chars,
                "included": chapter.included,
                "reason": chapter.reason,
                "group": chapter.group,
                "section": chapter.section,
                "group_title": chapter.group_title,
            }
            for index, chapter in enumerate(book.chapters)
        ],
    }


def as_text(book: IngestedBook) -> str:
    lines = [
        f"Title:    {book.title}",
        f"Authors:  {', '.join(book.authors) or '(none)'}",
        f"Language: {book.language}",
        f"Format:   {book.format.value}",
        "Cover:    "
        + (
            f"{book.cover_media_type}, {book.cover_width} x {book.cover_height}"
            if book.cover_media_type
            else "(none)"
        ),
        *(f"Warning:  {warning}" for warning in book.warnings),
        "",
        f"{'#':>4}  {'Title':<48} {'Words':>8} {'Chars':>9}  Included",
    ]
    parts = Counter(chapter.group for chapter in book.chapters)
    for index, chapter in enumerate(book.chapters):
        if chapter.section == 1:  # a divided chapter: its title, then its sections under it
            lines.append(f"{'':>4}  {_cut(chapter.group_title, 48)} ({parts[chapter.group]} parts)")
        title = f"  Part {chapter.section}" if chapter.section else _cut(chapter.title, 48)
        included = "yes" if chapter.included else f"no: {chapter.reason}"
        lines.append(f"{index:>4}  {title:<48} {chapter.words:>8,} {chapter.chars:>9,}  {included}")
    selected = [chapter for chapter in book.chapters if chapter.included]
    chapters = len(parts)
    counted = f"{chapters} chapter{'s' if chapters != 1 else ''}"
    if chapters != len(book.chapters):
        counted += f" in {len(book.chapters)} parts"
    lines += [
        "",
        f"{counted}, {len(selected)} included "
        f"({sum(c.words for c in selected):,} of {book.words:,} words), {len(book.warnings)} warning(s).",
    ]
    return "\n".join(lines)


def _cut(title: str, width: int) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"
