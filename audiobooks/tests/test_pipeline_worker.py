"""The conversion pipeline end to end on real worker processes (the ``celery_worker`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mutagen.mp4 import MP4

from accounts.models import User
from audiobooks.audio.testing import parse_vtt, probe
from audiobooks.models import Book, Conversion, ConversionChapter, StoredObject
from audiobooks.pipeline.progress import conversion_progress
from audiobooks.pipeline.render import cached_part_key
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.tests.factories import story_book, wait_until_finished
from credits.models import CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

TITLES = ("The Harbour", "The Storm", "Morning")


def ready_book(user: User, directory: Path, titles: tuple[str, ...] = TITLES) -> Book:
    return story_book(user, directory, titles=titles)


def test_a_conversion_renders_masters_and_assembles_on_real_workers(owner, tmp_path, celery_worker):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1, 2], voice_key=DEFAULT_VOICE, speed=1.0
    )
    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message

    progress = conversion_progress(conversion)
    assert (progress.percent, progress.parts_done, progress.chapters_ready) == (100.0, 3, 3)
    assert set(conversion.selections.values_list("status", flat=True)) == {ConversionChapter.Status.READY}

    m4b_key = storage_keys.m4b_key(**deliverable_ids(conversion))
    local = tmp_path / "book.m4b"
    backend.object_download(m4b_key, local)
    tags = MP4(local)
    assert tags["\xa9nam"] == ["The Lighthouse"]
    assert tags["\xa9gen"] == ["Audiobook"]
    assert tags["\xa9wrt"] == ["Joe"]  # the narrator, as the voice's display name
    described = probe(local)
    assert [line.split(":", 1)[1].strip() for line in described.splitlines() if "title   " in line][
        1:
    ] == list(TITLES)  # the book's title, then one marker per chapter, titled from the table of contents
    assert described.count("Chapter #") == 3
    for number in (1, 2, 3):
        vtt = tmp_path / f"{number}.vtt"
        backend.object_download(storage_keys.captions_key(**deliverable_ids(conversion), number=number), vtt)
        cues = parse_vtt(vtt.read_text())
        assert cues
        assert cues[0].start_ms >= 500
    assert StoredObject.objects.filter(book=book, kind=StoredObject.Kind.MP3).count() == 3
    keys = {cached_part_key(key) for key in conversion.parts.values_list("cache_key", flat=True)}
    assert StoredObject.objects.filter(kind=StoredObject.Kind.PART, key__in=keys).count() == len(keys) == 3
    assert CreditEntry.objects.filter(kind=EntryKind.CHARGE).count() == 1
    conversion.refresh_from_db()
    assert conversion.charge_hundredths == -(-conversion.characters // 500)  # to the hundredth
    assert credit_balance_get(user=owner) == 300 - conversion.charge_hundredths
    assert not ledger_audit().mismatches


def test_a_part_delivered_three_times_is_rendered_and_stored_once(owner, tmp_path, celery_worker):
    from audiobooks.tasks import synthesize_part

    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path, titles=("Only",))
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE, speed=1.0
    )
    part = conversion.parts.get()
    for _ in range(2):  # beside the dispatcher's own message: two worker processes race for it
        synthesize_part.delay(part.pk)
    conversion = wait_until_finished(conversion)

    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    part.refresh_from_db()
    assert part.attempts == 1
    assert StoredObject.objects.filter(key=cached_part_key(part.cache_key)).count() == 1
