"""Plain-text and HTML books, format detection, and the text cleaning they share."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audiobooks.ingest import BookFormat, ErrorCode, IngestError, ingest_file
from audiobooks.ingest.cleaning import clean_paragraph, count_words, join_broken_words, vocabulary
from audiobooks.ingest.headings import heading_rank

from .ingest_fixtures import write_text


def prose(words: int, seed: str = "word") -> str:
    """A paragraph of `words` words, hard-wrapped at 70 columns like a Gutenberg text."""
    tokens = [f"{seed}{n % 50}" for n in range(words)]
    lines, current = [], ""
    for token in tokens:
        if current and len(current) + 1 + len(token) > 70:
            lines.append(current)
            current = ""
        current = f"{current} {token}".strip()
    return "\n".join([*lines, current]) + "."


def titles(path: Path) -> list[str]:
    return [chapter.title for chapter in ingest_file(path).chapters]


# --- TXT ---------------------------------------------------------------------------------


def test_txt_chapter_headings_of_every_common_shape_are_found(tmp_path: Path) -> None:
    text = "\n\n".join(
        [
            "Chapter 1",
            prose(60),
            "CHAPTER IV. THE RED CIRCLE",
            prose(60),
            "Chapter the Fifth",
            prose(60),
            "XII",
            prose(60),
            "Epilogue",
            prose(60),
        ]
    )
    path = write_text(tmp_path, "book.txt", text.encode())
    assert titles(path) == ["Chapter 1", "CHAPTER IV. THE RED CIRCLE", "Chapter the Fifth", "XII", "Epilogue"]


def test_txt_roman_numeral_headings_stay_in_the_text(tmp_path: Path) -> None:
    text = f"I\n\n{prose(50)}\n\nII\n\n{prose(50)}"
    chapters = ingest_file(write_text(tmp_path, "b.txt", text.encode())).chapters
    assert [chapter.text.split("\n\n")[0] for chapter in chapters] == ["I", "II"]


def test_txt_bare_heading_takes_the_short_title_line_after_it(tmp_path: Path) -> None:
    text = f"CHAPTER I\n\nA Scandal in Bohemia\n\n{prose(60)}\n\nCHAPTER II\n\nThe League\n\n{prose(60)}"
    assert titles(write_text(tmp_path, "b.txt", text.encode())) == [
        "CHAPTER I: A Scandal in Bohemia",
        "CHAPTER II: The League",
    ]


def test_txt_parts_hold_their_chapters(tmp_path: Path) -> None:
    text = "\n\n".join(
        ["Part One", "Chapter 1", prose(60), "Chapter 2", prose(60), "Part Two", "Chapter 3", prose(60)]
    )
    chapters = ingest_file(write_text(tmp_path, "b.txt", text.encode())).chapters
    assert [chapter.title for chapter in chapters] == ["Part One", "Part Two"]
    assert chapters[0].text.startswith("Part One\n\nChapter 1\n\n")
    assert "Chapter 2" in chapters[0].text


def test_txt_printed_contents_list_is_not_taken_for_chapters(tmp_path: Path) -> None:
    contents = "CONTENTS\n\nChapter 1. The Start\nChapter 2. The End"
    body = f"Chapter 1. The Start\n\n{prose(80)}\n\nChapter 2. The End\n\n{prose(80)}"
    book = ingest_file(write_text(tmp_path, "b.txt", f"My Book\n\n{contents}\n\n{body}".encode()))
    chapters = book.chapters
    assert book.title == "My Book"
    assert [chapter.title for chapter in chapters] == [
        "Front matter",
        "Chapter 1. The Start",
        "Chapter 2. The End",
    ]
    assert (chapters[0].included, chapters[0].reason) == (False, "Title page and contents (front matter)")
    assert chapters[0].text.endswith("CONTENTS\n\nChapter 1. The Start\n\nChapter 2. The End")
    assert chapters[0].text.startswith("My Book\n\nCONTENTS")


def test_txt_hard_wrapped_lines_are_joined_and_broken_words_mended(tmp_path: Path) -> None:
    text = "The experi-\nment was a well-known\nsuccess; a well-\nknown one.\n\nNext paragraph."
    chapters = ingest_file(write_text(tmp_path, "b.txt", text.encode())).chapters
    assert chapters[0].text == (
        "The experiment was a well-known success; a well-known one.\n\nNext paragraph."
    )


def test_txt_isolated_page_numbers_are_dropped(tmp_path: Path) -> None:
    text = f"{prose(30)}\n\n12\n\n{prose(30)}\n\n- 13 -\n\n{prose(30)}"
    chapter = ingest_file(write_text(tmp_path, "b.txt", text.encode())).chapters[0]
    assert len(chapter.text.split("\n\n")) == 3
    assert chapter.words == 90


def test_txt_without_headings_is_one_chapter_named_after_the_file(tmp_path: Path) -> None:
    book = ingest_file(write_text(tmp_path, "upload.txt", prose(40).encode()), filename="Short Story.txt")
    assert book.format is BookFormat.TXT
    assert book.title == "Short Story"
    assert [chapter.title for chapter in book.chapters] == ["Short Story"]
    assert book.chapters[0].words == 40


@pytest.mark.parametrize(
    ("encoding", "sample"),
    [
        ("cp1252", "Les “naïves” cafés — déjà vu, señor."),
        ("latin-1", "Ein naïver Bär aß Käse, café crème."),
        ("utf-16", "Ünïcödé in UTF-16: café."),
        ("utf-8-sig", "A BOM’d café."),
        ("koi8-r", "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива."),
    ],
)
def test_txt_encoding_is_detected(tmp_path: Path, encoding: str, sample: str) -> None:
    text = "\n\n".join([sample] * 20)
    chapter = ingest_file(write_text(tmp_path, "b.txt", text.encode(encoding))).chapters[0]
    assert chapter.text.split("\n\n")[0] == sample


def test_project_gutenberg_boilerplate_is_kept_but_deselected(tmp_path: Path) -> None:
    text = (
        "The Project Gutenberg eBook of Tiny Tales\n\nTitle: Tiny Tales\n\nAuthor: Ann Writer\n\n"
        "Language: English\n\n*** START OF THE PROJECT GUTENBERG EBOOK TINY TALES ***\n\n"
        f"Chapter 1\n\n{prose(60)}\n\nChapter 2\n\n{prose(60)}\n\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK TINY TALES ***\n\nSection 1. General Terms of Use"
    )
    book = ingest_file(write_text(tmp_path, "pg.txt", text.encode()))
    assert (book.title, book.authors, book.language) == ("Tiny Tales", ["Ann Writer"], "en")
    assert [(c.title, c.included) for c in book.chapters] == [
        ("Project Gutenberg header", False),
        ("Chapter 1", True),
        ("Chapter 2", True),
        ("Project Gutenberg licence", False),
    ]
    assert book.chapters[0].reason == "Licence (front matter)"
    assert book.chapters[-1].reason == "Licence (back matter)"


def test_binary_data_is_refused_as_an_unknown_format(tmp_path: Path) -> None:
    path = write_text(tmp_path, "b.txt", bytes(range(256)) * 40 + os.urandom(4096))
    with pytest.raises(IngestError) as caught:
        ingest_file(path)
    assert caught.value.code == ErrorCode.UNSUPPORTED_FORMAT


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "a PNG image"),
        (b"\0" * 60 + b"BOOKMOBI" + b"\0" * 100, "Kindle"),
        (b"Rar!\x1a\x07\x00" + b"\0" * 100, "a RAR archive"),
    ],
)
def test_common_wrong_uploads_are_named_in_the_refusal(tmp_path: Path, data: bytes, what: str) -> None:
    with pytest.raises(IngestError) as caught:
        ingest_file(write_text(tmp_path, "book.epub", data))
    assert caught.value.code == ErrorCode.UNSUPPORTED_FORMAT
    assert what in caught.value.message


def test_empty_text_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        ingest_file(write_text(tmp_path, "b.txt", b"   \n\n  \n"))
    assert caught.value.code == ErrorCode.NO_TEXT


# --- HTML --------------------------------------------------------------------------------

HTML_BOOK = """<!DOCTYPE html>
<html lang="fr"><head><title>Le Livre</title><meta name="author" content="Jeanne Auteur"></head>
<body><h1>Le Livre</h1><p>Avant-propos.</p>
<h2>Un</h2><p>Premier chapitre<a href="#fn1"><sup>1</sup></a>.</p>
<h2>Deux</h2><p>Second chapitre.<p>Sans fin de balise.
<div class="footnote" id="fn1"><p>Une note.</p></div>
</body></html>"""


def test_html_chapters_come_from_its_repeated_heading_level(tmp_path: Path) -> None:
    book = ingest_file(write_text(tmp_path, "livre.html", HTML_BOOK.encode()))
    assert book.format is BookFormat.HTML
    assert (book.title, book.authors, book.language) == ("Le Livre", ["Jeanne Auteur"], "fr")
    assert [(c.title, c.text) for c in book.chapters] == [
        ("Le Livre", "Le Livre\n\nAvant-propos."),
        ("Un", "Un\n\nPremier chapitre."),
        ("Deux", "Deux\n\nSecond chapitre.\n\nSans fin de balise."),
    ]


def test_html_is_recognised_by_its_content_whatever_its_name(tmp_path: Path) -> None:
    assert ingest_file(write_text(tmp_path, "livre.txt", HTML_BOOK.encode())).format is BookFormat.HTML


def test_html_with_chapter_lines_but_no_heading_tags_uses_the_text_patterns(tmp_path: Path) -> None:
    body = "".join(f"<p>CHAPTER {n}</p><p>{prose(50)}</p>" for n in ("I", "II", "III"))
    path = write_text(tmp_path, "b.html", f"<html><body>{body}</body></html>".encode())
    assert titles(path) == ["CHAPTER I", "CHAPTER II", "CHAPTER III"]


def test_html_declaring_entities_is_refused_before_the_forgiving_parser(tmp_path: Path) -> None:
    html = (
        '<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]><html><body><p>&x;<p>unclosed</body></html>'
    )
    with pytest.raises(IngestError) as caught:
        ingest_file(write_text(tmp_path, "b.html", html.encode()))
    assert caught.value.code == ErrorCode.ENTITY_DECLARATION


def test_windows_1252_html_without_a_charset_is_decoded(tmp_path: Path) -> None:
    html = "<html><body><h1>T</h1><p>“Déjà vu” — naïve.</p></body></html>".encode("cp1252")
    assert ingest_file(write_text(tmp_path, "b.html", html)).chapters[0].text.endswith("“Déjà vu” — naïve.")


# --- Cleaning ----------------------------------------------------------------------------


def test_words_broken_at_a_line_end_are_joined_unless_the_text_hyphenates_them() -> None:
    text = "exam-\nple, well-known and well-\nknown, Anglo-\nSaxon, 1890-\n1900"
    words, compounds = vocabulary(text)
    assert join_broken_words(text, words, compounds) == (
        "example, well-known and well-known, Anglo-Saxon, 1890-1900"
    )


def test_clean_paragraph_drops_print_only_characters_and_keeps_meaningful_ones() -> None:
    assert clean_paragraph("soft\u00adhyphen\u00a0and\u200bzero  width\u2060—joiner") == (
        "softhyphen andzero width—joiner"
    )
    assert clean_paragraph("می\u200cخواهم") == "می\u200cخواهم"  # Persian needs its ZWNJ
    assert clean_paragraph("line one \n\n  line two\r\nthree") == "line one\nline two\nthree"


def test_words_are_tokens_with_a_letter_or_a_digit() -> None:
    assert count_words("— Hello, world! … 42 — ¿Qué? ** ") == 4


@pytest.mark.parametrize(
    ("line", "rank"),
    [
        ("Chapter 1", 3),
        ("CHAPTER IV", 3),
        ("Chapter Twenty-One", 3),
        ("Part One", 2),
        ("BOOK II. THE RETURN", 1),
        ("XIV", 3),
        ("Prologue", 3),
        ("Chapter 3 was the best of them all, said she", None),
        ("I went home.", None),
        ("Chapters", None),
        ("VX", None),  # Roman-shaped, but not a valid numeral
    ],
)
def test_heading_shapes(line: str, rank: int | None) -> None:
    assert heading_rank(line) == rank
