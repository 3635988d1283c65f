# mypy: disable-error-code="arg-type,union-attr,attr-defined,operator"
# (mutagen types every file's chapters and tags as Optional; these tests read files the workers wrote.)
"""Each chapter is finished when its last Part is; the M4B is a join of the chapters' AAC segments.

On real worker processes (the ``celery_worker`` fixture), whose ffmpeg records
every command line it is given (``CeleryWorker.ffmpeg_log``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from django.utils import timezone
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from accounts.models import User
from audiobooks.audio.master import HEAD_MS
from audiobooks.audio.testing import read_wav
from audiobooks.models import Book, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.pipeline.render import cached_part_key
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.tests.factories import story_book, wait_until_finished
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

TITLES = ("The Harbour", "The Storm", "Morning")
TOLERANCE_S = 0.030
SPEECH_THRESHOLD = 0.02
_SEGMENT_KEY = re.compile(r"^users/[0-9a-f-]{36}/books/[0-9a-f-]{36}/aac/[0-9a-f]{64}\.m4a$")


@dataclass(frozen=True)
class FfmpegRun:
    args: list[str]
    listing: list[str]  # an ffconcat listing's lines, when the run had one
    folder: list[str]  # the names beside that listing when ffmpeg started


def ffmpeg_runs(log: Path, since: int) -> list[FfmpegRun]:
    runs = []
    for line in log.read_bytes()[since:].decode().split("\n"):  # splitlines() would split at \x1d and \x1e
        if not line:
            continue
        args, *concat = line.split("\x1d")
        listing, folder = [*concat, "", ""][:2]
        runs.append(
            FfmpegRun(
                args=args.split("\x1f")[:-1],
                listing=[entry for entry in listing.split("\x1e") if entry],
                folder=[entry for entry in folder.split("\x1e") if entry],
            )
        )
    return runs


def convert(user: User, book: Book, chapters: list[int]) -> Conversion:
    conversion = conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=chapters, voice_key=DEFAULT_VOICE, speed=1.0
    )
    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    return conversion


def decode(path: Path) -> tuple[int, np.ndarray]:
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
         "-map", "0:a:0", "-f", "s16le", "-acodec", "pcm_s16le", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    rate = MP4(path).info.sample_rate
    return rate, np.frombuffer(done.stdout, "<i2").astype(np.float64) / 32768


def speech_in_first_part(conversion_chapter: ConversionChapter, folder: Path) -> int:
    """Where speech starts in the chapter's first Part, in samples, at the level mastering gave it."""
    first = Part.objects.get(
        conversion_id=conversion_chapter.conversion_id,
        chapter_id=conversion_chapter.chapter_id,
        chapter_part_index=0,
    )
    path = folder / f"part-{first.pk}.wav"
    backend.object_download(cached_part_key(first.cache_key), path)
    _, samples = read_wav(path)
    gain = 10 ** ((conversion_chapter.gain_db or 0.0) / 20)
    return int(np.argmax(np.abs(samples / 32768 * gain) > SPEECH_THRESHOLD))


def test_a_three_chapter_book_is_its_chapters_segments_joined_by_stream_copy(owner, tmp_path, celery_worker):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = story_book(owner, tmp_path, titles=TITLES)
    since = celery_worker.ffmpeg_log.stat().st_size
    conversion = convert(owner, book, [0, 1, 2])

    chapters = list(conversion.selections.order_by("position"))
    for chapter in chapters:
        assert _SEGMENT_KEY.match(chapter.segment_key), chapter.segment_key
        assert chapter.samples
        assert chapter.samples % 1024 == 0
        assert StoredObject.objects.get(key=chapter.segment_key).kind == StoredObject.Kind.SEGMENT
    local = tmp_path / "book.m4b"
    backend.object_download(storage_keys.m4b_key(**deliverable_ids(conversion)), local)
    atoms = MP4(local).chapters
    assert [atom.title for atom in atoms] == list(TITLES)

    rate, decoded = decode(local)
    head = round(HEAD_MS * rate / 1000)
    start = 0
    for chapter, atom in zip(chapters, atoms, strict=True):
        expected = start + head + speech_in_first_part(chapter, tmp_path)
        window = np.abs(decoded[start : expected + rate // 2]) > SPEECH_THRESHOLD
        found = start + int(np.argmax(window))
        assert abs(found - expected) / rate <= TOLERANCE_S, (chapter.number, (found - expected) / rate)
        assert abs(atom.start - start / rate) <= TOLERANCE_S, chapter.number
        start += chapter.samples
    assert abs(decoded.size - start) < 1024

    runs = ffmpeg_runs(celery_worker.ffmpeg_log, since)
    joins = [run for run in runs if "concat" in run.args]
    assert len(joins) == 1
    join = joins[0]
    assert join.args[join.args.index("-c") + 1] == "copy"
    assert not {"-c:a", "-af", "-filter_complex", "-b:a", "-ar"} & set(join.args)
    joined = [line for line in join.listing if line.startswith("file ")]
    assert len(joined) == 3
    assert all(line.endswith(".m4a'") for line in joined)
    # What assembly downloaded sits beside the listing: the three segments and the cover, never a Part.
    downloaded = [name for name in join.folder if not name.startswith(".")]
    assert sorted(name for name in downloaded if name.endswith(".m4a")) == [
        "0001.m4a",
        "0002.m4a",
        "0003.m4a",
    ]
    assert all(name.endswith(".m4a") or name.startswith("cover.") for name in downloaded), downloaded
    # Each chapter was mastered once, into both of its encodings at once.
    encodes = [run for run in runs if "-filter_complex" in run.args]
    assert len(encodes) == 3
    for run in encodes:
        assert {"aac", "libmp3lame"} <= set(run.args)


def test_a_later_conversion_of_the_same_chapters_reuses_their_segments_mp3s_and_captions(
    owner, tmp_path, celery_worker
):
    credits_grant_by_system(user=owner, hundredths=600, reason="test")
    book = story_book(owner, tmp_path, titles=TITLES)
    first = convert(owner, book, [0, 1, 2])
    since = celery_worker.ffmpeg_log.stat().st_size
    second = convert(owner, book, [0, 2])

    keys = {chapter.chapter_id: chapter.segment_key for chapter in first.selections.all()}
    for chapter in second.selections.all():
        assert chapter.segment_key == keys[chapter.chapter_id]
        assert chapter.sources_digest
    runs = ffmpeg_runs(celery_worker.ffmpeg_log, since)
    assert [run for run in runs if "concat" in run.args]  # the book is joined
    assert not [run for run in runs if "-filter_complex" in run.args or "-af" in run.args]  # nothing mastered
    assert StoredObject.objects.filter(book=book, kind=StoredObject.Kind.SEGMENT).count() == 3
    mp3 = tmp_path / "second-2.mp3"
    backend.object_download(storage_keys.mp3_key(**deliverable_ids(second), number=2), mp3)
    tags = ID3(mp3)
    assert (str(tags["TIT2"]), str(tags["TRCK"])) == ("Morning", "2/2")  # this conversion's, not the first's
    assert len(ID3(mp3).getall("TIT2")) == 1
    vtt = tmp_path / "second-2.vtt"
    backend.object_download(storage_keys.captions_key(**deliverable_ids(second), number=2), vtt)
    assert vtt.read_text().startswith("WEBVTT")


def test_a_lost_segment_is_mastered_again_and_assembly_never_needs_the_other_chapters_parts(
    owner, tmp_path, celery_worker
):
    from audiobooks.tasks import assemble_book

    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = story_book(owner, tmp_path, titles=TITLES)
    conversion = convert(owner, book, [0, 1, 2])
    lost = conversion.selections.get(position=1)
    # The render cache is purged, and the second chapter's segment deleted by hand; assemble again.
    part_keys = {cached_part_key(key) for key in conversion.parts.values_list("cache_key", flat=True)}
    backend.objects_delete([*part_keys, lost.segment_key])
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.ASSEMBLING,
        finished_at=None,
        duration_ms=None,
        assembly_sent_at=timezone.now(),
    )
    assemble_book.delay(conversion.pk)

    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    lost.refresh_from_db()
    assert lost.status == ConversionChapter.Status.READY
    assert backend.object_head(lost.segment_key)
    # Only the lost chapter's Parts were rendered again; the others' are still gone from the cache.
    for part in conversion.parts.all():
        stored = backend.object_head(cached_part_key(part.cache_key)) is not None
        assert stored == (part.chapter_id == lost.chapter_id), part.pk
    local = tmp_path / "book.m4b"
    backend.object_download(storage_keys.m4b_key(**deliverable_ids(conversion)), local)
    assert [atom.title for atom in MP4(local).chapters] == list(TITLES)
