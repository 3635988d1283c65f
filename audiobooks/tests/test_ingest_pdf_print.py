"""PDFs laid out as printed books, made with fpdf2 in the test.

Chapters open on a new page with their heading lower down and no running head; the
other pages carry a running head (the chapter's title on odd pages, and the book's
title or nothing on even ones) and a page number; margins mirror on odd and even
pages; paragraphs start with a first-line indent, except after a heading or a scene
break (a blank line), and run on across pages without any gap.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from audiobooks.ingest import IngestedBook, ingest_file

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
# Paragraphs per chapter: chapter 2 fills less than two pages, so its running head
# shows once, on the page after its heading.
SIZES = (40, 9, 22, 50)


@dataclass
class Chapter:
    title: str
    paragraphs: list[str]
    scene_breaks: set[int]  # paragraphs after a blank line, not indented


def source(seed: int = 7) -> list[Chapter]:
    rng = random.Random(seed)  # noqa: S311  # reproducible prose, not secrets

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
        return " ".join(words).capitalize() + rng.choice([".", ".", ".", "!", "?", ";", ","])

    chapters = []
    for title, count in zip(TITLES, SIZES, strict=True):
        paragraphs = [
            " ".join(sentence() for _ in range(rng.randint(1, 6))).rstrip(",;") + "." for _ in range(count)
        ]
        chapters.append(Chapter(title, paragraphs, set(range(3, count, 11))))
    return chapters


def printed_book(chapters: list[Chapter], *, outline: bool, even_head: str | None) -> bytes:
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


def _wrap(pdf: object, text: str, width: float, indent: float) -> list[str]:
    lines: list[str] = []
    current: list[str] = []
    for word in text.split():
        room = width - (indent if not lines else 0)
        if current and pdf.get_string_width(" ".join([*current, word])) > room:  # type: ignore[attr-defined]
            lines.append(" ".join(current))
            current = []
        current.append(word)
    return [*lines, " ".join(current)]


def read(tmp_path: Path, *, outline: bool, even_head: str | None = BOOK_TITLE) -> IngestedBook:
    path = tmp_path / "book.pdf"
    path.write_bytes(printed_book(source(), outline=outline, even_head=even_head))
    return ingest_file(path)


LAYOUTS = [
    pytest.param(True, BOOK_TITLE, id="outline-alternating-heads"),
    pytest.param(False, BOOK_TITLE, id="no-outline-alternating-heads"),
    pytest.param(True, None, id="outline-odd-heads-only"),
    pytest.param(False, None, id="no-outline-odd-heads-only"),
]


@pytest.mark.parametrize(("outline", "even_head"), LAYOUTS)
def test_printed_book_gives_the_right_chapters_each_heading_once(
    tmp_path: Path, outline: bool, even_head: str | None
) -> None:
    book = read(tmp_path, outline=outline, even_head=even_head)
    assert [chapter.title for chapter in book.chapters] == list(TITLES)
    everything = "\n\n".join(chapter.text for chapter in book.chapters)
    for chapter in book.chapters:
        assert chapter.text.startswith(f"{chapter.title}\n\n")
        assert everything.count(chapter.title) == 1
    assert BOOK_TITLE not in everything


@pytest.mark.parametrize(("outline", "even_head"), LAYOUTS)
def test_no_running_head_lands_inside_a_sentence(
    tmp_path: Path, outline: bool, even_head: str | None
) -> None:
    book = read(tmp_path, outline=outline, even_head=even_head)
    for chapter, expected in zip(book.chapters, source(), strict=True):
        body = chapter.text.split("\n\n")[1:]
        assert " ".join(body).split() == " ".join(expected.paragraphs).split()


@pytest.mark.parametrize(("outline", "even_head"), LAYOUTS)
def test_paragraph_counts_are_within_five_percent_of_the_source(
    tmp_path: Path, outline: bool, even_head: str | None
) -> None:
    book = read(tmp_path, outline=outline, even_head=even_head)
    found = sum(len(chapter.text.split("\n\n")) - 1 for chapter in book.chapters)  # less each heading
    expected = sum(len(chapter.paragraphs) for chapter in source())
    assert abs(found - expected) <= 0.05 * expected


def test_paragraphs_end_at_indents_and_scene_breaks_not_only_at_short_lines(tmp_path: Path) -> None:
    book = read(tmp_path, outline=False)
    for chapter, expected in zip(book.chapters, source(), strict=True):
        assert chapter.text.split("\n\n")[1:] == expected.paragraphs
