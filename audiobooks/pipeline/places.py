"""A reader's place and bookmarks follow a revision: in a chapter that sounds different, to the same sentence.

An edited chapter (or one said at another speed, or with a new pronunciation)
has new timings, so an offset in milliseconds would land elsewhere. When the
revision completes, each place in such a chapter is found in the revised
audiobook's sentences, that sentence is matched in the revision's sentences
(``difflib`` over the sentence texts: an unchanged sentence is found again
wherever it moved; one edited or removed maps to where its replacement, or the
text after it, begins), and the place keeps its offset into the sentence,
scaled by the sentence's new length. Both timelines are the Parts' sentence
timings laid end to end, the same way mastering joins the Parts, so the room
tone at the head of a chapter, the same in both, cancels out.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher

from audiobooks.models import Bookmark, Conversion, ConversionChapter, ListeningProgress, Part

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spoken:
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class ChapterTimeline:
    number: int
    keys: list[str]
    sentences: list[Spoken]


def places_follow_revision(*, revision_id: int) -> None:
    """Inside the completing transaction: move the book's place and bookmarks in chapters that changed."""
    revision = Conversion.objects.filter(pk=revision_id).only("id", "book_id", "revision_of_id").first()
    if revision is None or revision.revision_of_id is None:
        return
    before = _timelines(revision.revision_of_id)
    after = _timelines(revision.pk)
    moves: dict[int, tuple[ChapterTimeline, ChapterTimeline]] = {
        old.number: (old, after[chapter_id])
        for chapter_id, old in before.items()
        if chapter_id in after
        and old.keys != after[chapter_id].keys
        and old.sentences
        and after[chapter_id].sentences
    }
    if not moves:
        return
    moved = 0
    progress = ListeningProgress.objects.select_for_update().filter(book_id=revision.book_id).first()
    if progress is not None and progress.chapter in moves:
        old, new = moves[progress.chapter]
        progress.chapter, progress.position_ms = new.number, place_moved(progress.position_ms, old, new)
        progress.save(update_fields=["chapter", "position_ms", "updated_at"])
        moved += 1
    for bookmark in Bookmark.objects.select_for_update().filter(book_id=revision.book_id, chapter__in=moves):
        old, new = moves[bookmark.chapter]
        bookmark.chapter, bookmark.position_ms = new.number, place_moved(bookmark.position_ms, old, new)
        bookmark.save(update_fields=["chapter", "position_ms", "updated_at"])
        moved += 1
    logger.info("conversion %s: %d places moved to the same sentence", revision_id, moved)


def place_moved(position_ms: int, old: ChapterTimeline, new: ChapterTimeline) -> int:
    """Where ``position_ms`` of the old chapter is in the new one: the same sentence, the same way into it."""
    starts = [sentence.start_ms for sentence in old.sentences]
    here = max(0, bisect.bisect_right(starts, position_ms) - 1)
    there, same = len(new.sentences) - 1, False
    matcher = SequenceMatcher(
        None, [s.text for s in old.sentences], [s.text for s in new.sentences], autojunk=False
    )
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if i1 <= here < i2:
            there, same = (j1 + (here - i1), True) if tag == "equal" else (j1, False)
            break
    there = min(there, len(new.sentences) - 1)
    was, now = old.sentences[here], new.sentences[there]
    if not same:
        return now.start_ms  # the sentence was edited away: where the text now there begins
    into = max(0, position_ms - was.start_ms)
    old_length, new_length = was.end_ms - was.start_ms, now.end_ms - now.start_ms
    if old_length > 0:
        into = round(into * new_length / old_length)
    return now.start_ms + min(into, max(0, new_length))


def _timelines(conversion_id: int) -> dict[int, ChapterTimeline]:
    """Each chapter's Part keys and its sentences on the chapter's clock, by chapter id.

    A chapter with a Part never rendered has no sentences: places in it stay.
    """
    numbers = dict(
        ConversionChapter.objects.filter(conversion_id=conversion_id).values_list("chapter_id", "position")
    )
    parts = (
        Part.objects.filter(conversion_id=conversion_id)
        .order_by("chapter_id", "chapter_part_index")
        .values_list("chapter_id", "cache_key", "duration_ms", "sentences")
    )
    keys: dict[int, list[str]] = defaultdict(list)
    sentences: dict[int, list[Spoken]] = defaultdict(list)
    offsets: dict[int, int | None] = defaultdict(int)
    for chapter_id, cache_key, duration_ms, timings in parts:
        keys[chapter_id].append(cache_key)
        offset = offsets[chapter_id]
        if offset is None or duration_ms is None:
            offsets[chapter_id] = None
            continue
        sentences[chapter_id].extend(
            Spoken(offset + int(s["start_ms"]), offset + int(s["end_ms"]), str(s["text"])) for s in timings
        )
        offsets[chapter_id] = offset + duration_ms
    return {
        chapter_id: ChapterTimeline(
            number=position + 1,
            keys=keys[chapter_id],
            sentences=sentences[chapter_id] if offsets[chapter_id] is not None else [],
        )
        for chapter_id, position in numbers.items()
    }
