"""PDF books made with fpdf2 in the test: print furniture removed, chapters found."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from audiobooks.ingest import BookFormat, ErrorCode, IngestError, ingest_file

from .ingest_fixtures import PdfPage, make_image_pdf, make_pdf

SENTENCE = (
    "It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith, "
    "his chin nuzzled into his breast in an effort to escape the vile wind, slipped quickly "
    "through the glass doors of Victory Mansions, though not quickly enough to prevent a swirl "
    "of gritty dust from entering along with him."
)


def prose(count: int, width: int = 80) -> list[str]:
    """`count` lines of wrapped prose, as a typesetter would set them."""
    words = (SENTENCE + " ") * (count // 3 + 2)
    lines: list[str] = []
    current = ""
    for word in words.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = ""
        current = f"{current} {word}".strip()
    return lines[:count]


def write(tmp_path: Path, data: bytes, name: str = "book.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture
def novel(tmp_path: Path) -> Path:
    pages = [
        PdfPage(["Chapter 1", *prose(25)], bookmark="The Beginning"),
        PdfPage([*prose(12), "and so the experi-", "ment went on until dusk.", "That was the end of it."]),
        PdfPage(["Chapter 2", *prose(25)], bookmark="The Middle"),
        PdfPage(prose(20)),
        PdfPage(["Chapter 3", *prose(25)], bookmark="The End"),
    ]
    data = make_pdf(
        pages, header="NINETEEN EIGHTY-FOUR", page_numbers=True, title="1984", author="George Orwell"
    )
    return write(tmp_path, data)


def test_pdf_chapters_come_from_the_outline(novel: Path) -> None:
    book = ingest_file(novel)
    assert book.format is BookFormat.PDF
    assert [chapter.title for chapter in book.chapters] == ["The Beginning", "The Middle", "The End"]
    assert book.chapters[0].text.startswith("Chapter 1\n\nIt was a bright cold day")
    assert book.chapters[1].text.startswith("Chapter 2\n\n")


def test_pdf_metadata_gives_title_and_author(novel: Path) -> None:
    book = ingest_file(novel)
    assert (book.title, book.authors, book.language) == ("1984", ["George Orwell"], "und")


def test_running_headers_and_page_numbers_are_removed(novel: Path) -> None:
    for chapter in ingest_file(novel).chapters:
        assert "NINETEEN EIGHTY-FOUR" not in chapter.text
        for paragraph in chapter.text.split("\n\n"):
            assert not re.fullmatch(r"\d+", paragraph)
        # The prose has no digits: the only ones left are the chapter headings' own.
        assert re.findall(r"\d+", chapter.text) == re.findall(r"Chapter (\d)", chapter.text)


def test_words_hyphenated_across_lines_are_joined(novel: Path) -> None:
    text = ingest_file(novel).chapters[0].text
    assert "the experiment went on until dusk." in text
    assert "experi-" not in text


def test_paragraphs_are_rebuilt_from_lines(novel: Path) -> None:
    paragraphs = ingest_file(novel).chapters[0].text.split("\n\n")
    assert paragraphs[-1] == "That was the end of it."
    assert all("\n" not in paragraph for paragraph in paragraphs)


def test_outline_entry_in_the_middle_of_a_page_cuts_at_its_heading_line(tmp_path: Path) -> None:
    pages = [
        PdfPage(
            ["Prologue", *prose(10), "End of the prologue.", "Chapter One", *prose(10)],
            bookmark="Chapter One",
            bookmark_line=12,
        ),
    ]
    data = make_pdf(pages)
    path = write(tmp_path, data)
    chapters = ingest_file(path).chapters
    assert chapters[-1].title == "Chapter One"
    assert chapters[-1].text.startswith("Chapter One\n\n")
    assert "End of the prologue." in chapters[0].text
    assert "End of the prologue." not in chapters[-1].text


def test_headings_give_the_chapters_when_there_is_no_outline(tmp_path: Path) -> None:
    pages = [PdfPage([heading, *prose(30)]) for heading in ("CHAPTER I", "CHAPTER II", "CHAPTER III")]
    path = write(tmp_path, make_pdf(pages, page_numbers=True))
    chapters = ingest_file(path).chapters
    # Each heading sits at the top of a page, like a running header would, but on pages far
    # apart: it stays, as the chapter's title and as its first words.
    assert [chapter.title for chapter in chapters] == ["CHAPTER I", "CHAPTER II", "CHAPTER III"]
    assert all(chapter.text.startswith(chapter.title + "\n\n") for chapter in chapters)


def test_pdf_without_a_text_layer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        ingest_file(write(tmp_path, make_image_pdf()))
    assert caught.value.code == ErrorCode.PDF_NO_TEXT
    assert "no text layer" in caught.value.message


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    data = make_pdf([PdfPage(prose(5))], user_password="secret")
    with pytest.raises(IngestError) as caught:
        ingest_file(write(tmp_path, data))
    assert caught.value.code == ErrorCode.PDF_ENCRYPTED


def test_pdf_locked_only_against_editing_is_read(tmp_path: Path) -> None:
    data = make_pdf([PdfPage(prose(5))], user_password="")
    book = ingest_file(write(tmp_path, data))
    assert book.chapters[0].text.startswith("It was a bright cold day")


def test_damaged_pdf_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(IngestError) as caught:
        ingest_file(write(tmp_path, b"%PDF-1.7\n1 0 obj << /Type /Catalog"))
    assert caught.value.code == ErrorCode.CORRUPT_PDF
    assert caught.value.message == "This PDF is damaged or incomplete, so it can't be read."
    # An expected refusal: the workers' log says why in one line, with no traceback.
    assert caplog.records
    assert not [record for record in caplog.records if record.exc_info]


def test_junk_pdf_title_gives_way_to_the_file_name(tmp_path: Path) -> None:
    data = make_pdf([PdfPage(prose(5))], title="Microsoft Word - draft7.docx")
    assert ingest_file(write(tmp_path, data, "My Novel.pdf")).title == "My Novel"
