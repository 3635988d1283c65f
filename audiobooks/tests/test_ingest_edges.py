"""Ingestion at the edges: huge files in bounded memory, sections, deep markup, odd zips, limits.

Every input is built here. The 200 MB file is measured in a fresh process, whose own
peak RSS (VmHWM) is what counts.
"""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from audiobooks.ingest import ErrorCode, IngestError, ingest_file, open_book
from audiobooks.ingest.chapters import MAX_CHAPTERS
from ebookvoice.paths import BASE_DIR as REPO

from .ingest_fixtures import EpubSpec, nav_list, write_text, xhtml, zip_bytes
from .prose_fixtures import prose_block, write_prose

MEMORY_BUDGET_MB = 400
CHILD = """
import json, sys
from pathlib import Path
from audiobooks.ingest import open_book
chapters = words = 0
with open_book(Path(sys.argv[1])) as book:
    for chapter in book.chapters:  # stored and let go, as a caller should
        chapters += 1
        words += chapter.words
status = Path("/proc/self/status").read_text()
hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({"chapters": chapters, "words": words, "warnings": book.warnings, "mb": hwm_kb / 1024}))
"""


# --- Bounded memory, sections ----------------------------------------------------------------


def test_a_200_mb_text_file_is_read_in_under_400_mb(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    words = write_prose(path, 200)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=600,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["mb"] < MEMORY_BUDGET_MB
    assert report["words"] == words
    # 200 MB of prose is about 3,500 hours: its parts grow so the book stays choosable.
    assert report["chapters"] <= MAX_CHAPTERS
    assert any("parts are about" in warning for warning in report["warnings"])


def test_a_60_mb_headingless_text_gives_sections_of_about_30_minutes(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    words = write_prose(path, 60)
    book = ingest_file(path, filename="A Long Story.txt")
    sections = book.chapters
    assert len(sections) > 1_500
    assert [section.title for section in sections] == [f"Part {n}" for n in range(1, len(sections) + 1)]
    assert all(22_000 <= section.chars <= 38_000 for section in sections)
    assert {(section.group, section.group_title) for section in sections} == {(0, "A Long Story")}
    assert [section.section for section in sections] == list(range(1, len(sections) + 1))
    assert sum(section.words for section in sections) == words
    assert all(section.text.endswith(".") for section in sections)  # cut between sentences


def test_an_overlong_chapter_without_children_is_divided_into_sections(tmp_path: Path) -> None:
    block, _ = prose_block(2, 250_000)
    short, _ = prose_block(3, 5_000)
    path = write_text(tmp_path, "b.txt", f"Chapter 1\n\n{block}Chapter 2\n\n{short}".encode())
    chapters = ingest_file(path).chapters
    assert [chapter.title for chapter in chapters] == [
        "Chapter 1",
        *(f"Chapter 1, part {n}" for n in range(2, 9)),
        "Chapter 2",
    ]
    assert [(chapter.group, chapter.section) for chapter in chapters] == [
        *((0, n) for n in range(1, 9)),
        (1, 0),
    ]
    assert {chapter.group_title for chapter in chapters[:8]} == {"Chapter 1"}
    assert chapters[-1].group_title == ""
    assert chapters[0].text.startswith("Chapter 1\n\n")
    assert all(
        paragraph.endswith(".") for chapter in chapters for paragraph in chapter.text.split("\n\n")[1:]
    )


def test_an_overlong_epub_document_is_divided_into_sections_too(tmp_path: Path) -> None:
    block, _ = prose_block(4, 130_000)
    body = "".join(f"<p>{paragraph}</p>" for paragraph in block.split("\n\n") if paragraph)
    spec = EpubSpec(documents=[("a.xhtml", xhtml(body))], nav=nav_list([("The Voyage", "a.xhtml")]))
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [chapter.title for chapter in chapters] == [
        "The Voyage",
        "The Voyage, part 2",
        "The Voyage, part 3",
        "The Voyage, part 4",
    ]


def test_a_short_headingless_text_stays_one_chapter(tmp_path: Path) -> None:
    block, words = prose_block(5, 20_000)
    book = ingest_file(write_text(tmp_path, "story.txt", block.encode()))
    assert [(c.title, c.section, c.words) for c in book.chapters] == [("story", 0, words)]


def test_more_chapters_than_the_limit_are_refused_before_any_is_read(tmp_path: Path) -> None:
    paragraph, _ = prose_block(6, 300)
    text = "".join(f"Chapter {n}\n\n{paragraph}" for n in range(1, MAX_CHAPTERS + 2))
    path = write_text(tmp_path, "many.txt", text.encode())
    with pytest.raises(IngestError) as caught, open_book(path):
        pytest.fail("the book was opened")
    assert caught.value.code == ErrorCode.TOO_MANY_CHAPTERS
    assert f"{MAX_CHAPTERS + 1:,} chapters" in caught.value.message
    assert f"up to {MAX_CHAPTERS:,}" in caught.value.message


def test_open_book_hands_over_chapters_one_at_a_time(tmp_path: Path) -> None:
    paragraph, _ = prose_block(7, 2_000)
    text = "".join(f"Chapter {n}\n\n{paragraph}" for n in range(1, 4))
    with open_book(write_text(tmp_path, "three.txt", text.encode())) as book:
        assert book.chapter_count == 3
        first = next(book.chapters)
        assert first.title == "Chapter 1"
        assert [chapter.title for chapter in book.chapters] == ["Chapter 2", "Chapter 3"]


# --- Deep markup ----------------------------------------------------------------------------


def test_text_inside_5000_nested_tables_and_after_them_is_kept(tmp_path: Path) -> None:
    after, words_after = prose_block(8, 10_000)
    assert words_after >= 1_500
    paragraphs = "".join(f"<p>{paragraph}</p>" for paragraph in after.split("\n\n") if paragraph)
    nest = "<table><tr><td>" * 5_000 + "Deep inside the tables." + "</td></tr></table>" * 5_000
    page = f"<html><body>{nest}{paragraphs}</body></html>"
    book = ingest_file(write_text(tmp_path, "deep.html", page.encode()))
    assert book.words == 4 + words_after
    assert book.chapters[0].text.startswith("Deep inside the tables.\n\n")
    assert book.warnings == []


def test_markup_nested_past_any_book_is_refused_with_the_reason(tmp_path: Path) -> None:
    page = "<html><body>" + "<div>" * 60_000 + "<p>Too deep.</p>" + "</div>" * 60_000 + "</body></html>"
    with pytest.raises(IngestError) as caught:
        ingest_file(write_text(tmp_path, "deeper.html", page.encode()))
    assert caught.value.code == ErrorCode.TOO_DEEP
    assert "nests its markup more than 50,000 levels deep" in caught.value.message


def test_nothing_to_read_aloud_is_said_only_when_there_is_no_text(tmp_path: Path) -> None:
    page = "<html><body><div><table><tr><td> </td></tr></table></div><p>  </p></body></html>"
    with pytest.raises(IngestError) as caught:
        ingest_file(write_text(tmp_path, "empty.html", page.encode()))
    assert caught.value.code == ErrorCode.NO_TEXT
    assert caught.value.message == "This HTML file has nothing to read aloud: it holds no text."


# --- Plain-text front matter ----------------------------------------------------------------


def test_txt_title_block_and_contents_form_deselected_front_matter(tmp_path: Path) -> None:
    one, _ = prose_block(9, 3_000)
    two, _ = prose_block(10, 3_000)
    text = (
        "MOBY-DICK;\nor, THE WHALE.\n\nby Herman Melville\n\n\nCONTENTS\n\n"
        "CHAPTER 1. Loomings.\nCHAPTER 2. The Carpet-Bag.\n\n\n"
        f"CHAPTER 1. Loomings.\n\n{one}CHAPTER 2. The Carpet-Bag.\n\n{two}"
    )
    book = ingest_file(write_text(tmp_path, "upload-8831.txt", text.encode()))
    assert (book.title, book.authors) == ("MOBY-DICK; or, THE WHALE", ["Herman Melville"])
    assert [(c.title, c.included, c.reason) for c in book.chapters] == [
        ("Front matter", False, "Title page and contents (front matter)"),
        ("CHAPTER 1. Loomings.", True, ""),
        ("CHAPTER 2. The Carpet-Bag.", True, ""),
    ]
    assert book.chapters[0].text.startswith("MOBY-DICK; or, THE WHALE.\n\nby Herman Melville\n\nCONTENTS")
    assert book.chapters[1].text.startswith("CHAPTER 1. Loomings.\n\n")


def test_a_long_unheaded_opening_is_no_front_matter(tmp_path: Path) -> None:
    opening, _ = prose_block(11, 4_000)
    story, _ = prose_block(12, 3_000)
    book = ingest_file(write_text(tmp_path, "tale.txt", f"{opening}Chapter 1\n\n{story}".encode()))
    assert [(c.title, c.included) for c in book.chapters] == [("tale", True), ("Chapter 1", True)]


# --- Zip entries that are not files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (stat.S_IFLNK | 0o777, "a symbolic link"),
        (stat.S_IFCHR | 0o666, "a character device"),
        (stat.S_IFIFO | 0o644, "a named pipe"),
    ],
)
def test_a_zip_entry_that_is_no_regular_file_is_refused(tmp_path: Path, mode: int, kind: str) -> None:
    spec = EpubSpec(documents=[("c.xhtml", xhtml("<p>Text.</p>"))], nav=nav_list([("C", "c.xhtml")]))
    data = zip_bytes(spec.files())
    path = tmp_path / "b.epub"
    with zipfile.ZipFile(path, "w") as archive:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            for info in source.infolist():
                archive.writestr(info, source.read(info))
        entry = zipfile.ZipInfo("OEBPS/passwd.xhtml")
        entry.create_system = 3
        entry.external_attr = mode << 16
        archive.writestr(entry, "/etc/passwd")
    with pytest.raises(IngestError) as caught:
        ingest_file(path)
    assert caught.value.code == ErrorCode.ZIP_SPECIAL_ENTRY
    assert f"“OEBPS/passwd.xhtml”, which is {kind}" in caught.value.message
    assert "root:" not in caught.value.message
