"""The chapter picker on the largest books: divided chapters shown under their chapter, in
the database, the page and the API; 2,000 chapters rendered whole in under 1 MB and in as
many queries as two. Every book is a text file built here and read by `book_ingest`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audiobooks.models import Book
from audiobooks.services import CHAPTER_BATCH
from audiobooks.tests.factories import ingest_now
from tests.apiclient import Api, person_with_app

from .factories import upload_file
from .ingest_fixtures import write_text
from .prose_fixtures import prose_block

pytestmark = pytest.mark.django_db

PAGE_LIMIT_BYTES = 1_000_000


def text_book(user: User, directory: Path, name: str, text: str) -> Book:
    directory.mkdir(parents=True, exist_ok=True)
    book = upload_file(user, write_text(directory, name, text.encode()))
    book = ingest_now(book)
    assert book.status == Book.Status.READY, book.error_message
    return book


def chapters_text(count: int, size: int = 300) -> str:
    paragraph, _ = prose_block(21, size)
    return "".join(f"Chapter {n}\n\n{paragraph}" for n in range(1, count + 1))


def divided_book(user: User, directory: Path) -> Book:
    """'Chapter 1' of about four hours (divided into 8 sections), then a short 'Chapter 2'."""
    long, _ = prose_block(22, 250_000)
    short, _ = prose_block(23, 5_000)
    return text_book(user, directory, "divided.txt", f"Chapter 1\n\n{long}Chapter 2\n\n{short}")


def picker(client: Client, book: Book) -> str:
    response = client.get(reverse("audiobooks:book-convert", kwargs={"book_uuid": book.uuid}))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def reader_and_app() -> tuple[User, Client, Api]:
    user, api = person_with_app("picker@example.com")
    browser = Client()
    browser.force_login(user)
    return user, browser, api


def test_a_divided_chapter_is_stored_as_sections_that_share_its_group(reader_and_app, tmp_path):
    user, _, _ = reader_and_app
    book = divided_book(user, tmp_path)
    rows = list(book.chapters.order_by("index").values_list("title", "group", "section", "group_title"))
    assert rows == [
        ("Chapter 1", 0, 1, "Chapter 1"),
        *((f"Chapter 1, part {n}", 0, n, "Chapter 1") for n in range(2, 9)),
        ("Chapter 2", 1, 0, ""),
    ]


def test_the_picker_shows_the_sections_under_their_chapter(reader_and_app, tmp_path):
    user, browser, _ = reader_and_app
    book = divided_book(user, tmp_path)
    page = picker(browser, book)
    group = re.search(
        r'<li class="chapter-group">.*?<span class="title">([^<]*)<span class="why">In (\d+) parts.*?'
        r'<ul class="section-list" id="chapter-group-0" role="group" aria-label="Chapter 1">(.*?)</ul></li>',
        page,
        re.S,
    )
    assert group is not None, page
    assert group.group(1, 2) == ("Chapter 1", "8")
    assert 'aria-controls="chapter-group-0"' in page
    sections = re.findall(r'value="(\d+)"(?: checked)? data-chapter><span class="num">\d+</span>'
                          r'<span class="title">([^<]*)<', group.group(3))  # fmt: skip
    assert sections == [(str(n - 1), f"Part {n}") for n in range(1, 9)]
    # The whole chapter after it stands alone, outside any group.
    after = page[group.end() :]
    whole = r'value="8"(?: checked)? data-chapter><span class="num">9</span><span class="title">Chapter 2<'
    assert re.search(whole, after)
    assert "2 chapters, 9 to choose from" in page


def test_the_api_lists_each_row_with_its_group_and_section(reader_and_app, tmp_path):
    user, _, api = reader_and_app
    book = divided_book(user, tmp_path)
    chapters = api.get(f"/api/v1/books/{book.uuid}").json()["chapters"]
    assert [(c["index"], c["group"], c["section"], c["group_title"]) for c in chapters] == [
        *((n - 1, 0, n, "Chapter 1") for n in range(1, 9)),
        (8, 1, 0, ""),
    ]
    assert all("text" not in chapter for chapter in chapters)


def test_the_picker_renders_2000_chapters_whole_in_under_1_mb_and_as_few_queries_as_for_two(
    reader_and_app, tmp_path
):
    user, browser, api = reader_and_app
    small = text_book(user, tmp_path / "small", "two.txt", chapters_text(2))
    picker(browser, small)  # warm what is cached per session or per process
    with CaptureQueriesContext(connection) as two:
        picker(browser, small)
    with CaptureQueriesContext(connection) as two_api:
        assert len(api.get(f"/api/v1/books/{small.uuid}").json()["chapters"]) == 2

    large = text_book(user, tmp_path / "large", "many.txt", chapters_text(2_000))
    assert large.chapters.count() == 2_000 > CHAPTER_BATCH  # stored in several batches
    with CaptureQueriesContext(connection) as many:
        page = picker(browser, large)

    assert len(page.encode()) < PAGE_LIMIT_BYTES
    box = r'<input type="checkbox" name="chapter" value="(\d+)"(?: checked)? data-chapter>'
    boxes = re.findall(box, page)
    assert boxes == [str(index) for index in range(2_000)]
    titles = re.findall(r'<span class="title">(Chapter \d+)<', page)
    assert titles == [f"Chapter {n}" for n in range(1, 2_001)]
    assert "2,000 chapters" in page
    assert len(many.captured_queries) == len(two.captured_queries)
    with CaptureQueriesContext(connection) as many_api:
        assert len(api.get(f"/api/v1/books/{large.uuid}").json()["chapters"]) == 2_000
    assert len(many_api.captured_queries) == len(two_api.captured_queries)


def test_the_admin_lists_a_books_rows_with_their_group_and_section_without_their_text(
    reader_and_app, staff, tmp_path
):
    user, _, _ = reader_and_app
    book = divided_book(user, tmp_path)
    admin = Client()
    admin.force_login(staff)
    with CaptureQueriesContext(connection) as captured:
        response = admin.get(reverse("admin:audiobooks_book_change", args=[book.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Chapter 1, part 8" in page
    sections = re.findall(r'<td class="field-section">\s*<p>(\d+)</p>', page)
    assert sections[:9] == [str(n) for n in range(1, 9)] + ["0"]  # then the blank form's row
    chapter_reads = [q["sql"] for q in captured.captured_queries if 'FROM "audiobooks_chapter"' in q["sql"]]
    assert chapter_reads
    assert not any('"audiobooks_chapter"."text"' in sql for sql in chapter_reads)
