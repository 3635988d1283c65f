"""A ready chapter's two encodings from one mastering pass: its AAC segment for the M4B, and its MP3.

One ffmpeg process masters the joined chapter once (``master.mastering_filter``)
and splits the mastered signal to two encoders, which ffmpeg runs in threads
of their own: the AAC segment (64 kb/s, the M4B's own format, so the book is
later joined by stream copy and never encoded again) and the chapter's MP3.

The tail's room tone is rounded up to whole AAC frames (1,024 samples), so a
segment's mastered length is an exact number of frames. The segment is written
without an edit list: its first packet is the encoder's priming, which the
join drops (``m4b.join_segments``); every other packet holds exactly one frame
of the mastered chapter, and the decoded book is the chapters end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audiobooks.audio.concat import ChapterAudio
from audiobooks.audio.ffmpeg import discard, finish, partial_path, run_ffmpeg
from audiobooks.audio.m4b import M4B_BITRATE_KBPS
from audiobooks.audio.master import HEAD_MS, TAIL_MS, mastering_filter
from audiobooks.audio.mp3 import CHAPTER_MP3, ChapterTags, write_id3

AAC_FRAME_SAMPLES = 1024
AAC_PRIMING_SAMPLES = 1024  # ffmpeg's native AAC encoder's initial padding: one frame
# What a segment's content address covers beside its Parts and gain: bump it
# when mastering or the segment's encoding changes, and no old segment is reused.
MASTERING_VERSION = 2
# The native encoder's "fast" coder, not its default "twoloop": on Piper's speech at
# 64 kb/s it scores as well or better (PESQ-WB 4.39 against 4.21) for a quarter of
# the CPU (0.17 against 0.61 CPU-s per audio minute), and this encode runs beside synthesis.
AAC_CODER = "fast"
# LAME at quality 7 rather than its default: on the same speech at 64 kb/s it scores
# the same (PESQ-WB 4.53 against 4.51, 62 windows of 8 s) for half the CPU (0.10 against 0.18).
MP3_COMPRESSION_LEVEL = 7


@dataclass(frozen=True)
class Segment:
    aac: Path
    mp3: Path
    sample_rate: int
    samples: int  # the mastered chapter: head room tone, speech, tail room tone to a whole frame
    head_samples: int


def _samples(ms: int, rate: int) -> int:
    return round(ms * rate / 1000)


def framed_tail_samples(
    num_samples: int, *, sample_rate: int, head_ms: int = HEAD_MS, tail_ms: int = TAIL_MS
) -> int:
    """The tail room tone, in samples, that makes the mastered chapter whole AAC frames."""
    head, tail = _samples(head_ms, sample_rate), _samples(tail_ms, sample_rate)
    return tail + (-(num_samples + head + tail)) % AAC_FRAME_SAMPLES


def encode_segment(
    chapter: ChapterAudio,
    *,
    gain_db: float,
    aac_target: Path,
    mp3_target: Path,
    tags: ChapterTags | None = None,
    head_ms: int = HEAD_MS,
    tail_ms: int = TAIL_MS,
) -> Segment:
    """Master ``chapter`` once and encode it to ``aac_target`` and ``mp3_target`` at once.

    Both files appear only when both are complete.
    """
    rate = chapter.sample_rate
    tail = framed_tail_samples(chapter.num_samples, sample_rate=rate, head_ms=head_ms, tail_ms=tail_ms)
    chain = mastering_filter(gain_db, input_rate=rate, head_ms=head_ms, tail_ms=tail_ms, tail_samples=tail)
    aac, mp3 = partial_path(aac_target), partial_path(mp3_target)
    try:
        run_ffmpeg(
            ["-i", str(chapter.path), "-filter_complex", f"[0:a:0]{chain},asplit=2[aac][mp3]",
             "-map", "[aac]", "-map_metadata", "-1", "-ac", "1",
             "-c:a", "aac", "-aac_coder", AAC_CODER, "-b:a", f"{M4B_BITRATE_KBPS}k",
             "-use_editlist", "0", "-f", "mp4", str(aac),
             "-map", "[mp3]", "-map_metadata", "-1", "-ac", "1", "-c:a", "libmp3lame",
             "-compression_level", str(MP3_COMPRESSION_LEVEL), "-b:a", f"{CHAPTER_MP3.bitrate_kbps}k",
             "-id3v2_version", "0", "-f", "mp3", str(mp3)],
            what="encode the chapter",
        )  # fmt: skip
        if tags is not None:
            write_id3(mp3, tags)
        finish(aac, aac_target)
        finish(mp3, mp3_target)
    except BaseException:
        discard(aac)
        discard(mp3)
        raise
    head = _samples(head_ms, rate)
    return Segment(
        aac=aac_target,
        mp3=mp3_target,
        sample_rate=rate,
        samples=chapter.num_samples + head + tail,
        head_samples=head,
    )
