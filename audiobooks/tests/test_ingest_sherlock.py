"""The Adventures of Sherlock Holmes (Standard Ebooks source tree): a real EPUB 3 book.

Word counts are computed here, independently of the ingestion code, from the raw
XHTML, with the corpus README's rule: the text of <body> minus <script>/<style>,
block boundaries and <br> as whitespace, whitespace tokens, a word being a token
with at least one letter or digit.
"""

from __future__ import annotations

import zipfile
from functools import cache

import pytest
from lxml import etree

from audiobooks.ingest import IngestedBook, ingest_file
from audiobooks.ingest.navigation import read_nav
from audiobooks.ingest.package import locate_package, read_package
from audiobooks.ingest.safety import check_archive, open_zip
from audiobooks.ingest.xmlsafe import parse_document

from .test_ingest_corpus import CORPUS

SHERLOCK = CORPUS / "good" / "sherlock-holmes.epub"
STORIES = [
    ("A Scandal in Bohemia", "a-scandal-in-bohemia"),
    ("The Redheaded League", "the-redheaded-league"),
    ("A Case of Identity", "a-case-of-identity"),
    ("The Boscombe Valley Mystery", "the-boscombe-valley-mystery"),
    ("The Five Orange Pips", "the-five-orange-pips"),
    ("The Man with the Twisted Lip", "the-man-with-the-twisted-lip"),
    ("The Adventure of the Blue Carbuncle", "the-adventure-of-the-blue-carbuncle"),
    ("The Adventure of the Speckled Band", "the-adventure-of-the-speckled-band"),
    ("The Adventure of the Engineer’s Thumb", "the-adventure-of-the-engineers-thumb"),
    ("The Adventure of the Noble Bachelor", "the-adventure-of-the-noble-bachelor"),
    ("The Adventure of the Beryl Coronet", "the-adventure-of-the-beryl-coronet"),
    ("The Adventure of the Copper Beeches", "the-adventure-of-the-copper-beeches"),
]
XHTML = "{http://www.w3.org/1999/xhtml}"
BLOCKS = {"p", "div", "section", "article", "header", "footer", "blockquote", "li", "ul", "ol", "hr", "br",
          "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "td", "th", "figure", "figcaption"}  # fmt: skip


@cache
def book() -> IngestedBook:
    return ingest_file(SHERLOCK)


def source_words(xhtml: bytes) -> int:
    """The README's word count, computed without any ingestion code."""
    body = etree.fromstring(xhtml).find(f"{XHTML}body")
    assert body is not None
    for element in list(body.iter(f"{XHTML}script", f"{XHTML}style")):
        parent, previous = element.getparent(), element.getprevious()
        assert parent is not None
        if element.tail and previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        elif element.tail:
            parent.text = (parent.text or "") + element.tail
        parent.remove(element)
    for element in body.iter():
        if isinstance(element.tag, str) and element.tag.removeprefix(XHTML) in BLOCKS:
            element.text = " " + (element.text or "")
            element.tail = " " + (element.tail or "")
    tokens = "".join(body.itertext()).split()
    return sum(1 for token in tokens if any(ch.isalnum() for ch in token))


def story_source(slug: str) -> bytes:
    with zipfile.ZipFile(SHERLOCK) as zf:
        return zf.read(f"epub/text/{slug}.xhtml")


def test_sherlock_metadata_is_exact() -> None:
    assert book().title == "The Adventures of Sherlock Holmes"
    assert book().language == "en-GB"
    assert book().authors == ["Arthur Conan Doyle"]
    # Its cover is an SVG (1400 x 2100), drawn as a JPEG no higher than 1400 px.
    assert (book().cover_media_type, book().cover_width, book().cover_height) == ("image/jpeg", 933, 1400)
    cover = book().cover
    assert cover is not None
    assert cover.startswith(b"\xff\xd8\xff")


def test_sherlock_chapters_follow_the_nav_toc() -> None:
    titles = [chapter.title for chapter in book().chapters]
    assert titles == ["Titlepage", "Imprint", *(title for title, _ in STORIES), "Colophon", "Uncopyright"]


def test_sherlock_front_and_back_matter_is_kept_but_deselected() -> None:
    chapters = {chapter.title: chapter for chapter in book().chapters}
    expected = {
        "Titlepage": "Title page (front matter)",
        "Imprint": "Imprint (front matter)",
        "Colophon": "Colophon (back matter)",
        "Uncopyright": "Copyright page (back matter)",
    }
    for title, reason in expected.items():
        assert not chapters[title].included
        assert chapters[title].reason == reason
        assert chapters[title].words > 0
    assert all(chapters[title].included and not chapters[title].reason for title, _ in STORIES)


@pytest.mark.parametrize(("title", "slug"), STORIES)
def test_each_story_keeps_at_least_99_percent_of_its_source_words(title: str, slug: str) -> None:
    expected = source_words(story_source(slug))
    assert 6_900 <= expected <= 10_000  # the README's range, 6,973 … 9,945
    chapter = next(chapter for chapter in book().chapters if chapter.title == title)
    assert chapter.words >= 0.99 * expected
    assert chapter.words <= expected  # nothing invented, nothing read twice


def test_story_word_counts_match_the_readme_extremes() -> None:
    counts = [source_words(story_source(slug)) for _, slug in STORIES]
    assert (min(counts), max(counts)) == (6_973, 9_945)


def test_nested_sections_stay_inside_their_story_with_roman_headings_kept_as_text() -> None:
    scandal = next(chapter for chapter in book().chapters if chapter.title == "A Scandal in Bohemia")
    paragraphs = scandal.text.split("\n\n")
    assert paragraphs[:2] == ["A Scandal in Bohemia", "I"]
    assert "II" in paragraphs
    assert "III" in paragraphs
    assert paragraphs[-1].startswith("And that was how a great scandal threatened")


def test_sherlock_total_words_match_the_spine() -> None:
    with zipfile.ZipFile(SHERLOCK) as zf:
        names = [name for name in zf.namelist() if name.startswith("epub/text/")]
        total = sum(source_words(zf.read(name)) for name in names)
    assert total == 105_059
    assert book().words >= 0.99 * total


def test_sherlock_nav_has_19_entries_three_nested_under_the_first_story() -> None:
    with open_zip(SHERLOCK, b"PK") as zf:
        archive = check_archive(zf)
        parsed = parse_document(archive.read("epub/toc.xhtml", 1 << 20), "epub/toc.xhtml")
        assert parsed is not None
        toc = read_nav(parsed.root, "epub/toc.xhtml", archive).toc
    assert len(toc) == 16
    assert sum(1 + len(node.children) for node in toc) == 19
    scandal = toc[2]
    assert scandal.title == "A Scandal in Bohemia"
    assert [(child.title, child.fragment) for child in scandal.children] == [
        ("I", "a-scandal-in-bohemia-1"),
        ("II", "a-scandal-in-bohemia-2"),
        ("III", "a-scandal-in-bohemia-3"),
    ]
    assert all(not node.children for node in toc if node is not scandal)


def test_sherlock_spine_has_16_linear_documents() -> None:
    with open_zip(SHERLOCK, b"PK") as zf:
        archive = check_archive(zf)
        package = read_package(archive, locate_package(archive))
    members = [item.member for item, _ in package.spine]
    assert len(members) == 16
    assert all(linear for _, linear in package.spine)
    assert members[0] == "epub/text/titlepage.xhtml"
    assert members[-1] == "epub/text/uncopyright.xhtml"
    assert package.nav is not None
    assert package.nav.member == "epub/toc.xhtml"
    assert package.ncx is None


def test_sherlock_is_ingested_in_well_under_five_seconds() -> None:
    import time

    started = time.perf_counter()
    ingest_file(SHERLOCK)
    assert time.perf_counter() - started < 5


def test_chapter_text_is_clean_paragraphs() -> None:
    for chapter in book().chapters:
        assert "\n\n\n" not in chapter.text
        assert chapter.text == chapter.text.strip()
        assert "\u2060" not in chapter.text  # word joiners are print typography
        assert "  " not in chapter.text
        assert chapter.chars == len(chapter.text)
