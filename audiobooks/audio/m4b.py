"""The book's M4B: AAC in MP4 with chapter markers, cover art and tags, by ffmpeg.

The pipeline joins chapters' AAC segments (``audio.segment``) by stream copy
with ``join_segments``: nothing is decoded or encoded, and the chapter markers
are the segments' exact sample counts. ``build_m4b`` encodes a book from
chapter files, for anything that has no segments.

Chapter files are joined with the concat demuxer (streamed, never in memory)
and chapter markers come from an ffmetadata file whose START/END are the
measured durations of those files, in milliseconds. Mastered chapter WAVs of
one sample rate give sample-exact markers; other formats are measured with
mutagen, and their encoder padding can shift later markers by a few ms.
The narrator goes in the composer tag, where audiobook players look for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mutagen

from audiobooks.audio.ffmpeg import AudioError, discard, finish, partial_path, run_ffmpeg, wav_info
from audiobooks.audio.mp3 import read_cover

logger = logging.getLogger(__name__)

M4B_BITRATE_KBPS = 64


@dataclass(frozen=True)
class BookTags:
    title: str
    author: str
    narrator: str | None = None
    year: str | None = None
    genre: str = "Audiobook"
    cover: Path | None = None  # JPEG or PNG


@dataclass(frozen=True)
class ChapterFile:
    path: Path
    title: str


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class M4bResult:
    path: Path
    duration_ms: int
    chapters: list[ChapterMark]


def escape_ffmetadata(value: str) -> str:
    """Escape a value for an ffmetadata file: ``=``, ``;``, ``#``, ``\\`` and newlines get a backslash."""
    out = []
    for char in value:
        if char in "=;#\\\n":
            out.append("\\")
        out.append(char)
    return "".join(out)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def ffmetadata(tags: BookTags, chapters: Sequence[ChapterMark], *, timebase: int = 1000) -> str:
    """The ffmetadata file: the tags, and ``chapters`` whose times count in units of 1/``timebase`` s.

    ``ChapterMark`` holds milliseconds; with another ``timebase`` its
    ``start_ms`` and ``end_ms`` hold that unit (samples, for segments).
    """
    fields = {
        "title": tags.title,
        "album": tags.title,
        "artist": tags.author,
        "album_artist": tags.author,
        "genre": tags.genre,
        "date": tags.year,
        "composer": tags.narrator,
    }
    lines = [";FFMETADATA1"]
    lines += [f"{key}={escape_ffmetadata(value)}" for key, value in fields.items() if value]
    for mark in chapters:
        lines += [
            "[CHAPTER]",
            f"TIMEBASE=1/{timebase}",
            f"START={mark.start_ms}",
            f"END={mark.end_ms}",
            f"title={escape_ffmetadata(_one_line(mark.title))}",
        ]
    return "\n".join(lines) + "\n"


def _concat_line(path: Path) -> str:
    quoted = str(path.resolve()).replace("'", "'\\''")
    return f"file '{quoted}'"


def _durations_ms(files: Sequence[ChapterFile]) -> list[int]:
    """Durations of the chapter files; WAVs by their sample counts (one rate for all)."""
    wavs = [f.path.suffix.lower() == ".wav" for f in files]
    if all(wavs):
        infos = [wav_info(f.path) for f in files]
        if len({rate for rate, _ in infos}) != 1:
            raise AudioError("The chapters of a book must share one sample rate.", retryable=False)
        rate = infos[0][0]
        ends, total = [], 0
        for _, samples in infos:
            total += samples
            ends.append(round(total * 1000 / rate))
        return [end - start for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    durations = []
    for file in files:
        try:
            audio = mutagen.File(str(file.path))
        except (OSError, mutagen.MutagenError) as error:
            logger.error("Unreadable chapter file %s: %s", file.path, error)
            audio = None
        if audio is None or not audio.info.length:
            raise AudioError("Could not read a chapter's audio.", retryable=False)
        durations.append(round(audio.info.length * 1000))
    return durations


def chapter_marks(files: Sequence[ChapterFile]) -> list[ChapterMark]:
    marks, start = [], 0
    for file, duration in zip(files, _durations_ms(files), strict=True):
        marks.append(ChapterMark(title=file.title, start_ms=start, end_ms=start + duration))
        start += duration
    return marks


def build_m4b(
    files: Sequence[ChapterFile],
    target: Path,
    *,
    tags: BookTags,
    bitrate_kbps: int = M4B_BITRATE_KBPS,
    sample_rate: int | None = None,
) -> M4bResult:
    """Build ``target`` from ``files`` in order; it appears only when complete.

    The working files (concat list, ffmetadata) sit beside ``target`` and are removed.
    """
    if not files:
        raise AudioError("A book needs at least one chapter.", retryable=False)
    marks = chapter_marks(files)
    if tags.cover is not None:
        read_cover(tags.cover)  # refuse a bad cover before the long encode
    partial = partial_path(target)
    listing = partial.with_suffix(".txt")
    metadata = partial.with_suffix(".meta")
    try:
        listing.write_text("".join(_concat_line(f.path) + "\n" for f in files), encoding="utf-8")
        metadata.write_text(ffmetadata(tags, marks), encoding="utf-8")
        args = ["-f", "concat", "-safe", "0", "-i", str(listing), "-f", "ffmetadata", "-i", str(metadata)]
        maps = ["-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]
        if tags.cover is not None:
            args += ["-i", str(tags.cover)]
            maps += ["-map", "2:v", "-c:v", "copy", "-disposition:v", "attached_pic"]
        audio = ["-ac", "1", "-c:a", "aac", "-b:a", f"{bitrate_kbps}k"]
        if sample_rate:
            audio += ["-ar", str(sample_rate)]
        run_ffmpeg(
            [*args, *maps, *audio, "-movflags", "+faststart", "-f", "ipod", str(partial)],
            what="build the audiobook file",
        )
        finish(partial, target)
    except BaseException:
        discard(partial)
        raise
    finally:
        discard(listing)
        discard(metadata)
    return M4bResult(path=target, duration_ms=marks[-1].end_ms, chapters=marks)


@dataclass(frozen=True)
class SegmentFile:
    """A chapter's AAC segment: priming packet first, then ``samples`` of the mastered chapter."""

    path: Path
    title: str
    samples: int
    sample_rate: int


def _seconds(samples: int, rate: int) -> str:
    return f"{samples / rate:.6f}"


def _segment_listing(segments: Sequence[SegmentFile], priming: int, frame: int) -> str:
    """An ffconcat listing that drops each segment's priming packet and places it sample-exactly.

    ``inpoint`` (one frame in, rounded up to the microsecond so the seek lands
    on the first frame of audio) drops the priming of every segment, the first
    included: the M4B has no edit list. ``outpoint`` half a frame before the
    end keeps any padding packet out. ``duration`` sets where the next segment
    starts; it is taken from the running total in samples, so the rounding to
    microseconds never accumulates.
    """
    lines = ["ffconcat version 1.0"]
    total = 0
    for segment in segments:
        rate = segment.sample_rate
        start_us = round(total * 1_000_000 / rate)
        total += segment.samples
        inpoint_us = -(-priming * 1_000_000 // rate)
        lines += [
            _concat_line(segment.path),
            f"inpoint {inpoint_us / 1_000_000:.6f}",
            f"outpoint {_seconds(priming + segment.samples - frame // 2, rate)}",
            f"duration {(round(total * 1_000_000 / rate) - start_us) / 1_000_000:.6f}",
        ]
    return "\n".join(lines) + "\n"


def join_segments(
    segments: Sequence[SegmentFile], target: Path, *, tags: BookTags, priming: int = 1024, frame: int = 1024
) -> M4bResult:
    """Join AAC ``segments`` in order into the M4B at ``target`` by stream copy, which appears when complete.

    Chapter markers are the segments' sample counts, in samples. Memory does
    not grow with the book: ffmpeg streams packets, and only the index grows.
    """
    if not segments:
        raise AudioError("A book needs at least one chapter.", retryable=False)
    rate = segments[0].sample_rate
    if any(segment.sample_rate != rate for segment in segments):
        raise AudioError("The chapters of a book must share one sample rate.", retryable=False)
    if tags.cover is not None:
        read_cover(tags.cover)
    samples, start = [], 0
    for segment in segments:
        samples.append(ChapterMark(title=segment.title, start_ms=start, end_ms=start + segment.samples))
        start += segment.samples
    partial = partial_path(target)
    listing = partial.with_suffix(".ffconcat")
    metadata = partial.with_suffix(".meta")
    try:
        listing.write_text(_segment_listing(segments, priming, frame), encoding="utf-8")
        metadata.write_text(ffmetadata(tags, samples, timebase=rate), encoding="utf-8")
        args = ["-f", "concat", "-safe", "0", "-i", str(listing), "-f", "ffmetadata", "-i", str(metadata)]
        maps = ["-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]
        if tags.cover is not None:
            args += ["-i", str(tags.cover)]
            maps += ["-map", "2:v", "-disposition:v", "attached_pic"]
        run_ffmpeg(
            [*args, *maps, "-c", "copy", "-movflags", "+faststart", "-f", "ipod", str(partial)],
            what="join the audiobook file",
        )
        finish(partial, target)
    except BaseException:
        discard(partial)
        raise
    finally:
        discard(listing)
        discard(metadata)

    def ms(value: int) -> int:
        return round(value * 1000 / rate)

    marks = [ChapterMark(title=m.title, start_ms=ms(m.start_ms), end_ms=ms(m.end_ms)) for m in samples]
    return M4bResult(path=target, duration_ms=marks[-1].end_ms, chapters=marks)
