from __future__ import annotations

import pytest

from accounts.selectors import user_export
from audiobooks.services import book_ingest
from audiobooks.tests.factories import CORPUS, upload_file

pytestmark = pytest.mark.django_db


def test_a_persons_export_lists_their_books_and_chapters_and_none_of_anyone_elses(
    owner, stranger, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        book = upload_file(owner, CORPUS / "good" / "probe_xss_title.epub")
        upload_file(stranger, CORPUS / "good" / "probe_latin1_chapter.epub")
    book_ingest(book_id=book.id)

    exported = user_export(user=owner)

    assert [entry["title"] for entry in exported["books"]] == ["<script>alert(1)</script>"]
    assert exported["books"][0]["id"] == str(book.uuid)
    assert exported["books"][0]["chapters"] == [{"title": "c", "words": 1, "included": True}]
    assert "credits" in exported
