from __future__ import annotations

import pytest

from accounts.selectors import user_export
from audiobooks.tests.factories import CORPUS, ingest_now, upload_file

pytestmark = pytest.mark.django_db


def test_a_persons_export_lists_their_books_and_chapters_and_none_of_anyone_elses(
    owner, stranger, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        book = upload_file(owner, CORPUS / "good" / "probe_xss_title.epub")
        upload_file(stranger, CORPUS / "good" / "probe_latin1_chapter.epub")
    book = ingest_now(book)

    exported = user_export(user=owner)

    assert [entry["title"] for entry in exported["books"]] == ["<script>alert(1)</script>"]
    assert exported["books"][0]["id"] == str(book.uuid)
    assert exported["books"][0]["chapters"] == [{"title": "c", "words": 1, "included": True}]
    assert "credits" in exported


def test_the_export_carries_conversions_the_listening_position_and_bookmarks(owner, tmp_path):
    from django.utils import timezone

    from audiobooks.models import Bookmark, ListeningProgress
    from audiobooks.pipeline.submit import conversion_submit
    from audiobooks.tests.factories import story_book
    from credits.services import credits_grant_by_system
    from tts_engine.registry import DEFAULT_VOICE

    book = story_book(owner, tmp_path, titles=("One", "Two"))
    credits_grant_by_system(user=owner, hundredths=100, reason="test")
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1], voice_key=DEFAULT_VOICE, speed=1.25
    )
    type(conversion).objects.filter(pk=conversion.pk).update(changes=["Chapter 2 (Two): text edited"])
    ListeningProgress.objects.create(book=book, chapter=2, position_ms=61_000, recorded_at=timezone.now())
    Bookmark.objects.create(book=book, chapter=1, position_ms=5_000, note="the storm")

    [exported] = user_export(user=owner)["books"]

    assert exported["conversions"][0]["id"] == str(conversion.uuid)
    assert exported["conversions"][0]["speed"] == 1.25
    assert exported["conversions"][0]["changes"] == ["Chapter 2 (Two): text edited"]
    assert exported["listening_position"] == {"chapter": 2, "position_ms": 61_000}
    assert exported["bookmarks"] == [{"chapter": 1, "position_ms": 5_000, "note": "the storm"}]
