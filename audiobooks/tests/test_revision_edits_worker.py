"""A chapter edited on real workers: only its changed Part rendered and charged, new files, places moved."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4

from audiobooks.delivery.files import conversion_files_for_user
from audiobooks.models import Bookmark, Conversion, ListeningProgress, Part
from audiobooks.pipeline.edits import ChapterEdit
from audiobooks.pipeline.places import _timelines
from audiobooks.pipeline.revisions import conversion_revise
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

TITLES = ("The Harbour", "The Storm")
PARAGRAPHS = 20  # about 3,000 characters a chapter: two Parts each


def parts(conversion: Conversion) -> list[Part]:
    return list(conversion.parts.select_related("chapter").order_by("index"))


def stored(key: str, directory: Path) -> bytes:
    target = directory / key.replace("/", "_")
    backend.object_download(key, target)
    return target.read_bytes()


def test_a_chapter_edit_renders_only_its_changed_part_and_the_new_revision_replaces_the_old(  # noqa: PLR0915
    owner, tmp_path, celery_worker
):
    credits_grant_by_system(user=owner, hundredths=1000, reason="test")
    book = story_book(owner, tmp_path, titles=TITLES, paragraphs_per_chapter=PARAGRAPHS)
    first = wait_until_finished(
        conversion_submit(
            user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1], voice_key=DEFAULT_VOICE, speed=1.0
        )
    )
    assert first.status == Conversion.Status.COMPLETED, first.error_message
    assert [part.chapter.title for part in parts(first)] == ["The Harbour"] * 2 + ["The Storm"] * 2

    # The reader's place and a bookmark in chapter 2's second Part, on a sentence after the one cut.
    chapter = next(t for t in _timelines(first.pk).values() if t.number == 2)
    first_part, second_part = parts(first)[2:]
    before_cut = len(first_part.sentences)
    marked = chapter.sentences[before_cut + 3]
    assert marked.text == second_part.sentences[3]["text"]
    Bookmark.objects.create(book=book, chapter=2, position_ms=marked.start_ms + 40, note="here")
    ListeningProgress.objects.create(
        book=book, chapter=2, position_ms=marked.start_ms, recorded_at=timezone.now()
    )

    # The edit removes the second Part's first sentence, as a reader removes a footnote.
    cut_sentence = second_part.sentences[0]["text"]
    assert second_part.text.startswith(cut_sentence + " ")
    text = second_part.chapter.text
    assert text.endswith(second_part.text)  # the chapter's last Part (its sentences recur earlier)
    at = len(text) - len(second_part.text)
    new_text = text[:at] + text[at + len(cut_sentence) + 1 :]
    balance = credit_balance_get(user=owner)
    revision = conversion_revise(
        user=owner, conversion_uuid=first.uuid, edits=[ChapterEdit(number=2, text=new_text)]
    )
    # Until the revision completes, the first audiobook stays whole and downloadable.
    files = conversion_files_for_user(user=owner, conversion_uuid=first.uuid)
    assert files.m4b is not None
    assert all(chapter.mp3 is not None for chapter in files.chapters)

    revision = wait_until_finished(revision)
    assert revision.status == Conversion.Status.COMPLETED, revision.error_message
    rendered = [part for part in parts(revision) if not part.reused]
    assert [(part.chapter.title, part.chapter_part_index) for part in rendered] == [("The Storm", 1)]
    assert not rendered[0].from_cache
    assert all(part.from_cache for part in parts(revision) if part.reused)
    characters = rendered[0].characters
    assert revision.characters - revision.reused_characters == characters
    assert revision.charge_hundredths == -(-characters // 500)
    charge = CreditEntry.objects.get(kind=EntryKind.CHARGE, conversion_uuid=revision.uuid)
    assert (charge.characters, charge.amount) == (characters, -revision.charge_hundredths)
    assert credit_balance_get(user=owner) == balance - revision.charge_hundredths
    print(
        f"edit: {len(rendered)} of {len(parts(revision))} parts rendered, {characters} characters, "
        f"{revision.charge_hundredths} hundredths charged"
    )

    # The new revision's M4B and MP3s: chapter 1 as it was, chapter 2 shorter by a sentence.
    ids = deliverable_ids(revision)
    m4b: Any = MP4(io.BytesIO(stored(storage_keys.m4b_key(**ids), tmp_path)))
    assert len(m4b.chapters) == 2
    before = {c.position: c.duration_ms or 0 for c in first.selections.all()}
    after = {c.position: c.duration_ms or 0 for c in revision.selections.all()}
    assert after[0] == before[0]
    assert after[1] < before[1]
    for number in (1, 2):
        mp3: Any = MP3(io.BytesIO(stored(storage_keys.mp3_key(**ids, number=number), tmp_path)))
        assert abs(mp3.info.length * 1000 - after[number - 1]) < 500
    assert abs(m4b.info.length * 1000 - revision.duration_ms) < 500

    # The first audiobook lost its files once the revision completed, and kept its rows.
    assert backend.object_head(storage_keys.m4b_key(**deliverable_ids(first))) is None or wait_gone(first)
    assert Conversion.objects.filter(pk=first.pk, status=Conversion.Status.COMPLETED).exists()

    # The place and the bookmark moved to the same sentence, now earlier in the chapter.
    new = next(t for t in _timelines(revision.pk).values() if t.number == 2)
    same = new.sentences[before_cut + 2]
    assert same.text == marked.text
    assert same.start_ms < marked.start_ms
    bookmark = Bookmark.objects.get(book=book)
    assert bookmark.chapter == 2
    assert same.start_ms + 20 <= bookmark.position_ms <= same.start_ms + 60
    assert ListeningProgress.objects.get(book=book).position_ms == same.start_ms
    assert revision.changes == ["Chapter 2 (The Storm): text edited"]
    assert not ledger_audit().mismatches


def wait_gone(conversion: Conversion) -> bool:
    """The objects go just after the completing commit."""
    deadline = time.monotonic() + 10
    while backend.object_head(storage_keys.m4b_key(**deliverable_ids(conversion))) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_chapter_at_another_speed_and_going_back_on_real_workers(owner, tmp_path, celery_worker):
    credits_grant_by_system(user=owner, hundredths=1000, reason="test")
    book = story_book(owner, tmp_path, titles=TITLES)
    first = wait_until_finished(
        conversion_submit(
            user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1], voice_key=DEFAULT_VOICE, speed=1.0
        )
    )
    assert first.status == Conversion.Status.COMPLETED, first.error_message

    faster = wait_until_finished(
        conversion_revise(user=owner, conversion_uuid=first.uuid, edits=[ChapterEdit(number=1, speed=1.5)])
    )
    assert faster.status == Conversion.Status.COMPLETED, faster.error_message
    rendered = [part for part in parts(faster) if not part.reused]
    assert [part.chapter.title for part in rendered] == ["The Harbour"]
    assert rendered[0].speed == 1.5
    assert faster.charge_hundredths == -(-rendered[0].characters // 500)
    before = {c.position: c.duration_ms or 0 for c in first.selections.all()}
    after = {c.position: c.duration_ms or 0 for c in faster.selections.all()}
    assert after[1] == before[1]
    # Read at 1.5×: the speech takes about two thirds of the time (the room tone and pauses do not shrink).
    assert 0.55 < after[0] / before[0] < 0.85

    # Going back: the first audiobook's Parts are still cached, so nothing is rendered or charged.
    balance = credit_balance_get(user=owner)
    back = wait_until_finished(
        conversion_revise(user=owner, conversion_uuid=faster.uuid, revert_to=first.uuid)
    )
    assert back.status == Conversion.Status.COMPLETED, back.error_message
    assert all(part.reused and part.from_cache for part in parts(back))
    assert back.charge_hundredths == 0
    assert credit_balance_get(user=owner) == balance
    assert [p.cache_key for p in parts(back)] == [p.cache_key for p in parts(first)]
    assert {c.position: c.duration_ms for c in back.selections.all()} == before
    assert backend.object_head(storage_keys.m4b_key(**deliverable_ids(back))) is not None
    assert back.changes[0].startswith("Back to the revision of ")
    print(f"speed: 1 of {len(parts(faster))} parts rendered; revert: 0 of {len(parts(back))}, 0 charged")
    assert not ledger_audit().mismatches
