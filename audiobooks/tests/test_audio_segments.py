# mypy: disable-error-code="attr-defined,union-attr,index,arg-type"
# (mutagen types every file's info and tags as Optional; these tests read files they just wrote.)
"""A book joined from per-chapter AAC segments by stream copy keeps every chapter where its PCM puts it.

A synthetic 40-chapter book: each chapter a tone of its own length (never a
whole number of AAC frames), mastered and encoded on its own, then joined. The
decoded M4B is checked against the mastered PCM lengths, as the issue asks:
priming and padding must not add up over the chapters.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from PIL import Image

from audiobooks.audio.concat import ChapterAudio
from audiobooks.audio.m4b import BookTags, M4bResult, SegmentFile, join_segments
from audiobooks.audio.master import HEAD_MS, TAIL_MS
from audiobooks.audio.segment import AAC_FRAME_SAMPLES, Segment, encode_segment, framed_tail_samples
from audiobooks.audio.testing import probe, write_tone

RATE = 22050
CHAPTERS = 40
TOLERANCE_S = 0.030
SPEECH_THRESHOLD = 0.05  # the tones open at a few hundredths of full scale within a millisecond


@dataclass(frozen=True)
class Book:
    segments: list[Segment]
    speech_samples: list[int]  # each chapter's own audio, before mastering
    m4b: M4bResult
    decoded: np.ndarray  # float samples of the whole M4B


def decode(path: Path) -> np.ndarray:
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
         "-map", "0:a:0", "-ac", "1", "-f", "s16le", "-acodec", "pcm_s16le", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, "<i2").astype(np.float64) / 32768


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Book:
    from django.conf import settings

    settings.FFMPEG_BINARY = imageio_ffmpeg.get_ffmpeg_exe()  # restored by the module's end below
    folder = tmp_path_factory.mktemp("segments")
    rng = np.random.default_rng(17)
    segments: list[Segment] = []
    files: list[SegmentFile] = []
    lengths: list[int] = []
    for number in range(1, CHAPTERS + 1):
        seconds = float(rng.uniform(0.3, 1.6))
        tone = write_tone(
            folder / f"{number}.wav", seconds=seconds, rate=RATE, freq=300 + 10 * number, seed=number
        )
        chapter = ChapterAudio(path=tone, sample_rate=RATE, num_samples=round(seconds * RATE), sentences=[])
        segment = encode_segment(
            chapter, gain_db=-2.0, aac_target=folder / f"{number}.m4a", mp3_target=folder / f"{number}.mp3"
        )
        segments.append(segment)
        lengths.append(chapter.num_samples)
        files.append(SegmentFile(segment.aac, f"Chapter {number}", segment.samples, segment.sample_rate))
    cover = folder / "cover.png"
    Image.new("RGB", (32, 32), "teal").save(cover, "PNG")
    m4b = join_segments(
        files,
        folder / "book.m4b",
        tags=BookTags(title="Forty", author="A. Author", narrator="Joe", cover=cover),
    )
    return Book(segments=segments, speech_samples=lengths, m4b=m4b, decoded=decode(m4b.path))


@pytest.fixture(scope="module", autouse=True)
def _imageio_ffmpeg():
    from django.conf import settings

    before = settings.FFMPEG_BINARY
    yield
    settings.FFMPEG_BINARY = before


def expected_starts(book: Book) -> list[int]:
    """Where each chapter starts in samples: the sum of the mastered chapters before it."""
    return [int(s) for s in np.cumsum([0] + [segment.samples for segment in book.segments[:-1]])]


def first_speech(decoded: np.ndarray, around: int) -> int:
    """The first sample over the speech threshold within half a second either side of ``around``."""
    low = max(0, around - RATE // 2)
    window = np.abs(decoded[low : around + RATE // 2]) > SPEECH_THRESHOLD
    assert window.any(), f"no speech near sample {around}"
    return low + int(np.argmax(window))


def test_every_segment_is_whole_aac_frames_with_at_least_the_acx_tail(book):
    head, tail = round(HEAD_MS * RATE / 1000), round(TAIL_MS * RATE / 1000)
    for segment, speech in zip(book.segments, book.speech_samples, strict=True):
        assert segment.samples % AAC_FRAME_SAMPLES == 0
        assert segment.head_samples == head
        assert tail <= segment.samples - head - speech < tail + AAC_FRAME_SAMPLES
        assert segment.samples - head - speech == framed_tail_samples(speech, sample_rate=RATE)


def test_each_chapter_speaks_where_the_earlier_mastered_chapters_end_plus_the_head_room_tone(book):
    for number, start in enumerate(expected_starts(book), start=1):
        expected = start + book.segments[number - 1].head_samples
        found = first_speech(book.decoded, expected)
        assert abs(found - expected) / RATE <= TOLERANCE_S, (number, (found - expected) / RATE)


def test_the_decoded_book_is_the_mastered_chapters_end_to_end(book):
    total = sum(segment.samples for segment in book.segments)
    assert (
        abs(book.decoded.size - total) < AAC_FRAME_SAMPLES
    )  # naive concat adds a frame and more per chapter
    assert book.m4b.duration_ms == round(total * 1000 / RATE)


def test_each_chapter_atom_agrees_with_the_decoded_speech(book):
    chapters = MP4(book.m4b.path).chapters
    assert [chapter.title for chapter in chapters] == [f"Chapter {n}" for n in range(1, CHAPTERS + 1)]
    for number, (chapter, start) in enumerate(zip(chapters, expected_starts(book), strict=True), start=1):
        head = book.segments[number - 1].head_samples
        speech = first_speech(book.decoded, start + head)
        assert abs(chapter.start - start / RATE) <= TOLERANCE_S, number
        assert abs(chapter.start + head / RATE - speech / RATE) <= TOLERANCE_S, number
    assert [mark.start_ms for mark in book.m4b.chapters] == [
        round(s * 1000 / RATE) for s in expected_starts(book)
    ]


def test_the_m4b_is_aac_at_64k_with_tags_and_cover_and_the_mp3s_match_their_segments(book):
    described = probe(book.m4b.path)
    assert "Audio: aac" in described
    assert "22050 Hz" in described
    assert "mono" in described
    assert "attached pic" in described
    tags = MP4(book.m4b.path)
    assert tags["\xa9nam"] == ["Forty"]
    assert tags["\xa9wrt"] == ["Joe"]
    for segment in book.segments:
        # The MP3 comes from the same mastered signal: same length, give or take the encoder's padding.
        assert abs(MP3(segment.mp3).info.length - segment.samples / RATE) < 0.1
