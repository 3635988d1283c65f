"""The ACX export: a book's ready chapters as 44.1 kHz, 192 kb/s CBR MP3s in a zip, built while it is sent.

Nothing is stored. Each chapter is joined again from its lossless cached
Parts and mastered with the gain its chapter MP3 got (so it has the same
ACX levels), then encoded in pieces of at most ``max_file_ms`` (ACX refuses
files over 120 minutes). Working files live in one temporary folder per
chapter, removed before the next chapter starts, so the disk used is about
the longest chapter twice (its Parts and their join) plus one MP3 piece, and
memory stays flat (the zip is written chunk by chunk).

Which audio: the newest conversion of the book that has a ready chapter,
whatever its status, with only its ready chapters. A ready chapter is final
(its gain and length are on its row) even while the rest of its conversion
still renders, was cancelled or failed, and it is what the book's chapter
MP3s were made from; chapters of older conversions are not mixed in, so an
export never combines two voices.

Room tone: every file gets the full head (0.75 s) and tail (2 s) of room
tone, pieces of a long chapter included, because ACX checks each file on its
own. Pieces are cut between sentences (in the pause between two), never in a
word, as near as possible to equal lengths.
"""

from __future__ import annotations

import logging
import re
import tempfile
from bisect import bisect_right
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from itertools import pairwise
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.db.models import Exists, OuterRef

from accounts.models import User
from audiobooks import selectors
from audiobooks.audio.master import HEAD_MS, TAIL_MS, mastering_filter
from audiobooks.audio.mp3 import ACX_MAX_FILE_MS, ACX_MP3, ChapterTags, acx_spans, encode_mp3
from audiobooks.errors import BookError
from audiobooks.models import Book, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.pipeline.sources import PartsMissing, authors_of, book_cover, cached_part_key, chapter_join
from audiobooks.storage.backend import CHUNK_SIZE
from audiobooks.storage.zipstream import ZipEntry, zip_stream
from tts_engine.speech import SentenceTiming

logger = logging.getLogger(__name__)

# A piece's MP3 runs a little past its audio: the encoder's delay and its
# last, padded frame (tens of ms). Kept off each piece so no file passes the limit.
ENCODER_SLACK_MS = 1000
BYTES_PER_SECOND = ACX_MP3.bitrate_kbps * 1000 // 8


class ExportError(BookError):
    code = "export_error"
    http_status = 409


class NothingToExport(ExportError):
    code = "nothing_to_export"


class ExportAudioExpired(ExportError):
    code = "export_audio_expired"


NOTHING_MESSAGE = "This book has no finished chapters yet. Convert it, and export it once a chapter is ready."
EXPIRED_MESSAGE = (
    "The rendered audio the ACX export is made from is kept only for a while after a conversion, "
    "and some of it has expired. Convert the book again to export it: nothing else needs rendering."
)


@dataclass(frozen=True)
class ExportChapter:
    conversion_chapter_id: int
    number: int  # its number in the conversion (1-based), as in its MP3's name
    title: str
    gain_db: float
    duration_ms: int  # mastered, as one file


@dataclass(frozen=True)
class AcxExport:
    """What an ACX export of one book will contain; read before anything is sent."""

    book: Book
    conversion_id: int
    year: str
    chapters: list[ExportChapter]
    modified: datetime

    @property
    def filename(self) -> str:
        return f"{self.book.display_title} (ACX).zip"

    @property
    def duration_ms(self) -> int:
        return sum(chapter.duration_ms for chapter in self.chapters)


def acx_export_get_for_user(*, user: User, book_uuid: UUID) -> AcxExport:
    """The user's book's ACX export, or 404 (another user's book), or an ``ExportError``.

    Everything the stream needs is checked here, before the first byte: a
    book with no ready chapter, or whose cached Parts were purged (the purge
    deletes rows before objects, so a missing row is a missing file).
    """
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    ready = ConversionChapter.objects.filter(conversion=OuterRef("pk"), status=ConversionChapter.Status.READY)
    conversion = (
        Conversion.objects.filter(owner=user, book=book)
        .filter(Exists(ready))
        .order_by("-created_at", "-pk")
        .first()
    )
    if conversion is None:
        raise NothingToExport(NOTHING_MESSAGE)
    conversion_chapters = list(
        conversion.selections.filter(status=ConversionChapter.Status.READY)
        .select_related("chapter")
        .order_by("position")
    )
    chapter_ids = [conversion_chapter.chapter_id for conversion_chapter in conversion_chapters]
    needed = {
        cached_part_key(key)
        for key in Part.objects.filter(conversion=conversion, chapter_id__in=chapter_ids).values_list(
            "cache_key", flat=True
        )
    }
    stored = set(StoredObject.objects.filter(key__in=needed).values_list("key", flat=True))
    if missing := needed - stored:
        logger.info("ACX export of book %s: %d cached Parts expired", book.pk, len(missing))
        raise ExportAudioExpired(EXPIRED_MESSAGE)
    chapters = []
    for conversion_chapter in conversion_chapters:
        # Ready chapters have both (a check constraint).
        assert conversion_chapter.gain_db is not None
        assert conversion_chapter.duration_ms is not None
        chapters.append(
            ExportChapter(
                conversion_chapter_id=conversion_chapter.pk,
                number=conversion_chapter.number,
                title=conversion_chapter.chapter.title,
                gain_db=conversion_chapter.gain_db,
                duration_ms=conversion_chapter.duration_ms,
            )
        )
    modified = max(
        conversion_chapter.finished_at or conversion.created_at for conversion_chapter in conversion_chapters
    )
    return AcxExport(
        book=book,
        conversion_id=conversion.pk,
        year=str(conversion.created_at.year),
        chapters=chapters,
        modified=modified,
    )


def max_file_ms() -> int:
    """The longest file the export writes (``EXPORTS_ACX_MAX_FILE_MS``; ACX's 120 minutes by default)."""
    return int(getattr(settings, "EXPORTS_ACX_MAX_FILE_MS", ACX_MAX_FILE_MS))


def sentence_spans(
    duration_ms: int, sentences: Sequence[SentenceTiming], *, max_ms: int
) -> list[tuple[int, int]]:
    """(start, end) spans covering ``duration_ms``, none over ``max_ms``, cut in pauses between sentences.

    As few pieces as cuts in pauses allow (about what ``acx_spans`` makes,
    sometimes one more), as even as those pauses allow: the shortest limit at
    which the farthest-reaching cuts still make that many pieces. Only when
    one sentence is longer than a piece may be (never, at ACX's 120 minutes)
    are the pieces equal and cut where they fall.
    """
    if duration_ms <= max_ms:
        return [(0, duration_ms)]
    middles = {
        (before.end_ms + max(before.end_ms, after.start_ms)) // 2 for before, after in pairwise(sentences)
    }
    pauses = sorted(cut for cut in middles if 0 < cut < duration_ms)
    fewest = _farthest_cuts(duration_ms, pauses, limit=max_ms)
    if fewest is None:
        return acx_spans(duration_ms, max_ms=max_ms)
    pieces = len(fewest) - 1
    low, high = -(-duration_ms // pieces), max_ms  # the even length, and the limit
    while low < high:
        middle = (low + high) // 2
        bounds = _farthest_cuts(duration_ms, pauses, limit=middle)
        if bounds is not None and len(bounds) - 1 <= pieces:
            high = middle
        else:
            low = middle + 1
    return list(pairwise(_farthest_cuts(duration_ms, pauses, limit=low) or fewest))


def _farthest_cuts(duration_ms: int, pauses: list[int], *, limit: int) -> list[int] | None:
    """Bounds from 0 to ``duration_ms``, each next cut at the farthest pause within ``limit``.

    Farthest cuts make the fewest pieces no longer than ``limit``; None when
    some stretch between pauses is longer than that.
    """
    bounds = [0]
    while duration_ms - bounds[-1] > limit:
        reach = bisect_right(pauses, bounds[-1] + limit) - 1
        if reach < 0 or pauses[reach] <= bounds[-1]:
            return None
        bounds.append(pauses[reach])
    return [*bounds, duration_ms]


def _piece_max_ms(file_max_ms: int) -> int:
    """The longest stretch of a chapter one file can hold, beside its room tone and the encoder's frames."""
    room = file_max_ms - HEAD_MS - TAIL_MS - ENCODER_SLACK_MS
    if room < 1000:
        raise ValueError(f"an ACX file of {file_max_ms} ms has no room for audio")
    return room


def _entry_name(number: int, title: str, piece: int, pieces: int) -> str:
    name = f"{number:02d}" + (f"-{piece}" if pieces > 1 else "") + f" - {title}"
    return re.sub(r'[/\\:*?"<>|\x00-\x1f]', "_", name).strip()[:200] + ".mp3"


def acx_zip_stream(export: AcxExport, *, file_max_ms: int | None = None) -> Iterator[bytes]:
    """The bytes of the export's zip, chapter by chapter; working files go as each chapter is sent.

    Closing the iterator early (the client went away) removes the working
    files at once. A Part that vanished from storage after the check (behind
    the app's back) stops the stream with an error, so the client gets a
    broken download rather than a zip silently missing chapters.
    """
    entries = _entries(export, piece_max_ms=_piece_max_ms(file_max_ms or max_file_ms()))
    try:
        yield from zip_stream(entries)
    finally:
        entries.close()


def _entries(export: AcxExport, *, piece_max_ms: int) -> Generator[ZipEntry]:
    work_root = getattr(settings, "EXPORTS_WORK_DIR", None)
    with tempfile.TemporaryDirectory(prefix="ebv-acx-", dir=work_root) as root:
        cover = book_cover(book=export.book, workdir=Path(root))
        for track, chapter in enumerate(export.chapters, start=1):
            with tempfile.TemporaryDirectory(prefix=f"chapter-{chapter.number}-", dir=root) as workdir:
                tags = ChapterTags(
                    title=chapter.title, album=export.book.display_title, artist=authors_of(export.book),
                    track=track, track_total=len(export.chapters), year=export.year, cover=cover,
                )  # fmt: skip
                yield from _chapter_entries(
                    export, chapter, Path(workdir), tags=tags, piece_max_ms=piece_max_ms
                )


def _chapter_entries(
    export: AcxExport, chapter: ExportChapter, workdir: Path, *, tags: ChapterTags, piece_max_ms: int
) -> Iterator[ZipEntry]:
    """The chapter's pieces, each encoded when the zip reaches it; ``workdir`` holds the joined chapter."""
    conversion_chapter = ConversionChapter.objects.get(pk=chapter.conversion_chapter_id)
    try:
        joined = chapter_join(conversion_chapter=conversion_chapter, target=workdir / "chapter.wav")
    except PartsMissing as lost:
        logger.error("ACX export of book %s stopped: Parts %s vanished from storage",
                     export.book.pk, lost.part_ids)  # fmt: skip
        raise
    spans = sentence_spans(joined.duration_ms, joined.sentences, max_ms=piece_max_ms)
    # The resampling must be the chain's last step: left to the encoder's -ar,
    # ffmpeg resamples before the chain and the padding, counted in samples of
    # the input rate, comes out half as long at 44.1 kHz.
    audio_filter = mastering_filter(
        chapter.gain_db, input_rate=joined.sample_rate, sample_rate=ACX_MP3.sample_rate
    )
    for piece, span in enumerate(spans, start=1):
        if len(spans) > 1:
            piece_tags = replace(tags, title=f"{chapter.title} (part {piece} of {len(spans)})")
        else:
            piece_tags = tags
        yield ZipEntry(
            name=_entry_name(chapter.number, chapter.title, piece, len(spans)),
            # An estimate (the zip writes the true size after the data): it decides only zip64.
            size=(span[1] - span[0] + HEAD_MS + TAIL_MS) * BYTES_PER_SECOND // 1000,
            modified=export.modified,
            chunks=partial(
                _piece_chunks,
                joined.path,
                workdir / f"piece-{piece}.mp3",
                span=span,
                tags=piece_tags,
                audio_filter=audio_filter,
            ),
        )


def _piece_chunks(
    source: Path, target: Path, *, span: tuple[int, int], tags: ChapterTags, audio_filter: str
) -> Iterator[bytes]:
    """Encode one piece (mastered on the way), send it in chunks, and delete it."""
    try:
        encode_mp3(source, target, profile=ACX_MP3, tags=tags, audio_filter=audio_filter, span_ms=span)
        with target.open("rb") as mp3:
            while chunk := mp3.read(CHUNK_SIZE):
                yield chunk
    finally:
        target.unlink(missing_ok=True)
