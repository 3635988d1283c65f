"""Large prose inputs and printed-book PDFs, made on the spot for the ingestion tests and
benchmark: random sentences from a small vocabulary, reproducible from a seed.

In a printed-book PDF (made with fpdf2), chapters open on a new page with their
heading lower down and no running head; the other pages carry a running head (the
chapter's title on odd pages, and the book's title or nothing on even ones) and a
page number; margins mirror on odd and even pages; paragraphs start with a first-line
indent, except after a heading or a scene break (a blank line), and run on across
pages without any gap.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOK_TITLE = "MOBY-DICK"
WORDS = (
    "whale", "ship", "sea", "captain", "harpoon", "voyage", "deck", "mast", "sailor", "ocean",
    "wind", "storm", "island", "harbour", "rope", "sail", "morning", "evening", "night", "silence",
    "shadow", "water", "wave", "stranger", "tavern", "bed", "blanket", "window", "street", "lamp",
    "church", "preacher", "darkness", "cold", "winter", "snow", "hill", "road", "door", "chimney",
    "fire", "smoke", "bench", "table", "supper", "landlord", "bargain", "money", "coin", "pocket",
    "journey", "strange", "dark", "long", "narrow", "quiet", "heavy", "grey", "old", "young",
)  # fmt: skip
TITLES = (
    "Chapter 1. Loomings.",
    "Chapter 2. The Carpet-Bag.",
    "Chapter 3. The Spouter-Inn.",
    "Chapter 4. The Counterpane.",
)
MiB = 1024 * 1024


def prose_block(seed: int, size: int) -> tuple[str, int]:
    """About `size` characters of hard-wrapped paragraphs without headings, and its word count."""
    rng = random.Random(seed)  # noqa: S311  # reproducible prose, not secrets
    paragraphs, length, words = [], 0, 0
    while length < size:
        sentences = []
        for _ in range(rng.randint(2, 7)):
            sentence = [rng.choice(WORDS) for _ in range(rng.randint(5, 16))]
            sentences.append(" ".join(sentence).capitalize() + ".")
            words += len(sentence)
        paragraph = textwrap.fill(" ".join(sentences), 70)
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(paragraphs) + "\n\n", words


def write_prose(path: Path, megabytes: int) -> int:
    """A headingless text file of about `megabytes` MB; returns its word count."""
    block, words = prose_block(1, MiB)
    copies = megabytes * MiB // len(block)
    with path.open("w") as handle:
        for _ in range(copies):
            handle.write(block)
    return words * copies


# Paragraphs per chapter: chapter 2 fills less than two pages, so its running head
# shows once, on the page after its heading.
SIZES = (40, 9, 22, 50)


@dataclass
class Chapter:
    title: str
    paragraphs: list[str]
    scene_breaks: set[int]  # paragraphs after a blank line, not indented


def source(seed: int = 7, sizes: Sequence[int] = SIZES) -> list[Chapter]:
    """Chapters of random prose; past the four named ones, titled "Chapter N. Onward."."""
    rng = random.Random(seed)  # noqa: S311  # reproducible prose, not secrets

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
        return " ".join(words).capitalize() + rng.choice([".", ".", ".", "!", "?", ";", ","])

    chapters = []
    titles = [*TITLES, *(f"Chapter {n}. Onward." for n in range(len(TITLES) + 1, len(sizes) + 1))]
    for title, count in zip(titles, sizes, strict=False):
        paragraphs = [
            " ".join(sentence() for _ in range(rng.randint(1, 6))).rstrip(",;") + "." for _ in range(count)
        ]
        chapters.append(Chapter(title, paragraphs, set(range(3, count, 11))))
    return chapters


def printed_book(
    chapters: list[Chapter], *, outline: bool, even_head: str | None, ornaments: int = 0
) -> bytes:
    """The book as a PDF; `ornaments` lines of "* * *" above each chapter's heading put it
    below the lines a running head may take."""
    from fpdf import FPDF

    pdf = FPDF(format=(148, 210))
    pdf.set_auto_page_break(auto=False)
    line_height, top, bottom = 5.5, 22, 190
    running_head = ""

    def new_page(*, opening: bool) -> float:
        pdf.add_page()
        number = pdf.page_no()
        left = 18 if number % 2 else 14  # mirrored margins
        pdf.set_left_margin(left)
        pdf.set_right_margin(32 - left)
        pdf.set_font("helvetica", size=8)
        head = running_head if number % 2 else even_head
        if head and not opening:
            pdf.set_xy(left, 10)
            pdf.cell(pdf.epw, 5, head, align="C")
        pdf.set_xy(left, 200)
        pdf.cell(pdf.epw, 5, str(number), align="C")
        pdf.set_font("helvetica", size=10)
        return left

    for chapter in chapters:
        running_head = chapter.title
        left = new_page(opening=True)
        for number in range(ornaments):
            pdf.set_xy(left, 28 + 5 * number)
            pdf.cell(pdf.epw, 5, "* * *", align="C")
        pdf.set_font("helvetica", style="B", size=14)
        pdf.set_xy(left, 40)
        if outline:
            pdf.start_section(chapter.title)
        pdf.cell(pdf.epw, 8, chapter.title)
        pdf.set_font("helvetica", size=10)
        y = 58.0
        for index, paragraph in enumerate(chapter.paragraphs):
            scene_break = index in chapter.scene_breaks
            indent = 0 if index == 0 or scene_break else 5
            if scene_break:
                y += line_height
            for number, line in enumerate(_wrap(pdf, paragraph, pdf.epw, indent)):
                if y > bottom:
                    left = new_page(opening=False)
                    # A blank line that falls at the foot of a page opens the next one.
                    y = top + (line_height if scene_break and number == 0 else 0)
                pdf.set_xy(left + (indent if number == 0 else 0), y)
                pdf.cell(0, line_height, line)
                y += line_height
    return bytes(pdf.output())


def _wrap(pdf: Any, text: str, width: float, indent: float) -> list[str]:
    lines: list[str] = []
    current: list[str] = []
    for word in text.split():
        room = width - (indent if not lines else 0)
        if current and pdf.get_string_width(" ".join([*current, word])) > room:
            lines.append(" ".join(current))
            current = []
        current.append(word)
    return [*lines, " ".join(current)]
