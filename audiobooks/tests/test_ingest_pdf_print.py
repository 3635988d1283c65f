"""PDFs laid out as printed books (see print_fixtures), made with fpdf2 in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobooks.ingest import IngestedBook, ingest_file

from .prose_fixtures import BOOK_TITLE, TITLES, printed_book, source


def read(
    tmp_path: Path, *, outline: bool, even_head: str | None = BOOK_TITLE, ornaments: int = 0
) -> IngestedBook:
    path = tmp_path / "book.pdf"
    path.write_bytes(printed_book(source(), outline=outline, even_head=even_head, ornaments=ornaments))
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


@pytest.mark.parametrize("outline", [True, False])
def test_running_heads_go_when_the_heading_sits_below_other_lines(tmp_path: Path, outline: bool) -> None:
    book = read(tmp_path, outline=outline, ornaments=2)
    assert [chapter.title for chapter in book.chapters] == list(TITLES)
    everything = "\n\n".join(chapter.text for chapter in book.chapters)
    for chapter in book.chapters:
        assert everything.count(chapter.title) == 1
    assert BOOK_TITLE not in everything
