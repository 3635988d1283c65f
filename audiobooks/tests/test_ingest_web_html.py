"""A single web page as a book: only the chapters' text is read, never the site around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobooks.ingest import ErrorCode, IngestError, ingest_file

from .ingest_fixtures import write_text

CHROME = (
    "Free Classics Library",
    "Browse all books",
    "Sign in",
    "Contents",
    "Privacy policy",
    "Terms of service",
    "Copyright 2026",
    "Related books",
    "Search the library",
    "Share this page",
)
CHAPTER_ONE = (
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my "
    "purse, I thought I would sail about a little and see the watery part of the world."
)
CHAPTER_TWO = (
    "I stuffed a shirt or two into my old carpet-bag, tucked it under my arm, and started for Cape Horn "
    "and the Pacific."
)
WEB_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><title>Moby-Dick | Free Classics Library</title>
<meta name="author" content="Herman Melville"></head>
<body>
<header><a href="/">Free Classics Library</a> | <a href="/books">Browse all books</a> |
<a href="/in">Sign in</a></header>
<nav><p>Contents</p><ul><li><a href="#c1">Chapter 1</a></li><li><a href="#c2">Chapter 2</a></li></ul></nav>
<div role="search"><p>Search the library</p></div>
<main>
<h1>Moby-Dick</h1>
<h2 id="c1">Chapter 1. Loomings.</h2>
<p>{CHAPTER_ONE.replace("Some years", "<sup>1</sup> Some years")}</p>
<h2 id="c2">Chapter 2. The Carpet-Bag.</h2>
<p>{CHAPTER_TWO.replace("arm,", "arm<sup>*</sup>,").replace("Horn", "Horn<sup>†</sup>")}</p>
<div role="complementary"><p>Share this page</p></div>
</main>
<aside><h2>Related books</h2><p>Typee</p></aside>
<footer><p>Copyright 2026</p><p>Privacy policy · Terms of service</p></footer>
</body></html>"""


def test_a_web_page_gives_only_its_chapters_text(tmp_path: Path) -> None:
    book = ingest_file(write_text(tmp_path, "page.html", WEB_PAGE.encode()))
    assert [chapter.title for chapter in book.chapters] == [
        "Chapter 1. Loomings.",
        "Chapter 2. The Carpet-Bag.",
    ]
    assert book.chapters[0].text == f"Moby-Dick\n\nChapter 1. Loomings.\n\n{CHAPTER_ONE}"
    assert book.chapters[1].text == f"Chapter 2. The Carpet-Bag.\n\n{CHAPTER_TWO}"
    said = "\n".join(chapter.text for chapter in book.chapters)
    for chrome in CHROME:
        assert chrome not in said


def test_the_book_title_drops_the_site_name(tmp_path: Path) -> None:
    book = ingest_file(write_text(tmp_path, "page.html", WEB_PAGE.encode()))
    assert (book.title, book.authors, book.language) == ("Moby-Dick", ["Herman Melville"], "en")


def test_a_title_is_kept_whole_when_the_h1_is_not_shorter(tmp_path: Path) -> None:
    page = "<html><head><title>War | Peace</title></head><body><h1>War | Peace, the whole title</h1>"
    page += f"<p>{CHAPTER_ONE}</p></body></html>"
    assert ingest_file(write_text(tmp_path, "p.html", page.encode())).title == "War | Peace"


def test_without_main_the_page_chrome_is_still_not_read(tmp_path: Path) -> None:
    page = WEB_PAGE.replace("<main>", '<div class="content">').replace("</main>", "</div>")
    book = ingest_file(write_text(tmp_path, "page.html", page.encode()))
    said = "\n".join(chapter.text for chapter in book.chapters)
    assert CHAPTER_TWO in said
    for chrome in CHROME:
        assert chrome not in said


def test_with_main_text_outside_it_is_not_read(tmp_path: Path) -> None:
    page = (
        "<html><body><div><p>Today's offers: three books for the price of two.</p></div>"
        f"<main><p>{CHAPTER_ONE}</p></main><p>Sponsored by nobody at all.</p></body></html>"
    )
    book = ingest_file(write_text(tmp_path, "page.html", page.encode()))
    assert [chapter.text for chapter in book.chapters] == [CHAPTER_ONE]


def test_an_article_header_holding_its_heading_is_read(tmp_path: Path) -> None:
    header = "<header><h2>Chapter {}</h2><p>by the author</p></header>"
    body = "".join(f"<article>{header.format(number)}<p>{CHAPTER_ONE}</p></article>" for number in (1, 2))
    page = f"<html><body><header><p>Site banner</p></header>{body}</body></html>"
    book = ingest_file(write_text(tmp_path, "page.html", page.encode()))
    assert [chapter.title for chapter in book.chapters] == ["Chapter 1", "Chapter 2"]
    assert book.chapters[0].text == f"Chapter 1\n\nby the author\n\n{CHAPTER_ONE}"


@pytest.mark.parametrize("mark", ["1", "12", "*", "†", "‡", "[3]", "(4)"])
def test_a_bare_footnote_mark_in_sup_is_silent(tmp_path: Path, mark: str) -> None:
    page = f"<html><body><p>Call me Ishmael.<sup>{mark}</sup> Some years ago.</p></body></html>"
    book = ingest_file(write_text(tmp_path, "p.html", page.encode()))
    assert book.chapters[0].text == "Call me Ishmael. Some years ago."


def test_a_superscript_that_is_a_word_is_read(tmp_path: Path) -> None:
    page = "<html><body><p>The 1<sup>st</sup> of May, Mme<sup>lle</sup> Dupont.</p></body></html>"
    assert ingest_file(write_text(tmp_path, "p.html", page.encode())).chapters[0].text == (
        "The 1st of May, Mmelle Dupont."
    )


def test_a_page_that_is_only_navigation_says_so(tmp_path: Path) -> None:
    page = "<html><body><nav><a href='/'>Home</a> <a href='/books'>Books</a></nav><footer>About us</footer>"
    with pytest.raises(IngestError) as caught:
        ingest_file(write_text(tmp_path, "p.html", page.encode() + b"</body></html>"))
    assert caught.value.code == ErrorCode.NO_TEXT
    assert "only text is the site's navigation, header and footer" in caught.value.message
