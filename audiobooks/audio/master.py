"""Master a chapter to ACX's rules with ffmpeg: measure, then gain, a limiter and room tone.

ACX asks for RMS between -23 and -18 dB, peaks at or below -3 dBFS and a noise
floor at or below -60 dB, with 0.5-1 s of room tone at the head and 1-5 s at
the tail. Two passes: the first measures integrated loudness (EBU R128, the
``ebur128`` filter); the second applies one gain to reach ``TARGET_LUFS`` and
``alimiter`` to hold sample peaks under ``LIMIT_DBFS``, a dB below ACX's
ceiling so that resampling and lossy encoding stay under it too. The limiter
takes back some loudness on peaky speech (Piper's joe voice: -19 LUFS aimed,
about -20 LUFS and -20.8 dB RMS measured), well inside ACX's RMS window. One static
gain keeps the narration's dynamics; ``loudnorm`` would resample to 192 kHz
and cost about three times as much. Pauses and padding are digital silence,
so the noise floor is the voice's own.

The limiter runs with ``latency=1`` so audio is not delayed: sentence timings
move only by the head padding.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from audiobooks.audio.concat import ChapterAudio, shift_timings
from audiobooks.audio.ffmpeg import AudioError, discard, finish, partial_path, run_ffmpeg, wav_info

logger = logging.getLogger(__name__)

TARGET_LUFS = -19.0
LIMIT_DBFS = -4.0
HEAD_MS = 750
TAIL_MS = 2000
MAX_GAIN_DB = 30.0

_SUMMARY = re.compile(r"Summary:(.*)", re.DOTALL)
_INTEGRATED = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_TRUE_PEAK = re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS")


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float  # -inf for silence
    true_peak_dbfs: float | None  # None when not asked for


@dataclass(frozen=True)
class Mastered:
    audio: ChapterAudio
    input_lufs: float
    gain_db: float


def measure_loudness(path: Path, *, true_peak: bool = False) -> Loudness:
    """Integrated loudness (and, if asked, true peak) of ``path`` by ffmpeg's ``ebur128``.

    True peak oversamples 4x; mastering needs only the integrated figure.
    """
    # framelog=verbose keeps the per-frame lines out of stderr at the default log level.
    options = "framelog=verbose" + (":peak=true" if true_peak else "")
    stderr = run_ffmpeg(
        ["-i", str(path), "-map", "0:a:0", "-af", f"ebur128={options}", "-f", "null", "-"],
        what="measure the chapter's loudness",
    )
    summary = _SUMMARY.search(stderr)
    integrated = _INTEGRATED.search(summary.group(1)) if summary else None
    peak = _TRUE_PEAK.search(summary.group(1)) if summary else None
    if integrated is None or (true_peak and peak is None):
        logger.error("No ebur128 summary in ffmpeg's output for %s:\n%s", path, stderr[-2000:])
        raise AudioError("Could not measure the chapter's loudness.", retryable=False)
    return Loudness(
        integrated_lufs=float(integrated.group(1)),
        true_peak_dbfs=float(peak.group(1)) if peak else None,
    )


def mastering_gain(loudness: Loudness, *, target_lufs: float = TARGET_LUFS) -> float:
    if math.isinf(loudness.integrated_lufs):
        return 0.0
    return max(-MAX_GAIN_DB, min(MAX_GAIN_DB, target_lufs - loudness.integrated_lufs))


def _samples(ms: int, rate: int) -> int:
    return round(ms * rate / 1000)


def mastering_filter(
    gain_db: float,
    *,
    input_rate: int,
    head_ms: int = HEAD_MS,
    tail_ms: int = TAIL_MS,
    limit_dbfs: float = LIMIT_DBFS,
    sample_rate: int | None = None,
    tail_samples: int | None = None,
) -> str:
    """The ``-af`` chain of the second pass, for a WAV or straight into an encoder.

    Padding is counted in samples of ``input_rate`` so lengths are exact;
    ``tail_samples``, when given, replaces ``tail_ms`` (an AAC segment's tail
    is rounded up to whole frames).
    """
    if not 500 <= head_ms <= 1000 or not 1000 <= tail_ms <= 5000:
        raise ValueError("ACX wants 0.5-1 s of room tone at the head and 1-5 s at the tail.")
    limit = 10 ** (limit_dbfs / 20)
    chain = [
        f"volume={gain_db:.2f}dB",
        f"alimiter=limit={limit:.4f}:level=0:latency=1",
        f"adelay={_samples(head_ms, input_rate)}S:all=1",
        f"apad=pad_len={_samples(tail_ms, input_rate) if tail_samples is None else tail_samples}",
    ]
    if sample_rate:
        chain.append(f"aresample={sample_rate}")
    return ",".join(chain)


def master_wav(
    chapter: ChapterAudio,
    target: Path,
    *,
    target_lufs: float = TARGET_LUFS,
    head_ms: int = HEAD_MS,
    tail_ms: int = TAIL_MS,
    sample_rate: int | None = None,
    gain_db: float | None = None,
) -> Mastered:
    """Master ``chapter`` into a mono 16-bit WAV at ``target``, its timings moved by the head padding.

    ``gain_db`` skips the measuring pass: the M4B applies the gain its
    chapter's MP3 was mastered with, so both sound the same.
    """
    if gain_db is None:
        loudness = measure_loudness(chapter.path)
        gain = mastering_gain(loudness, target_lufs=target_lufs)
    else:
        loudness, gain = Loudness(integrated_lufs=math.nan, true_peak_dbfs=None), gain_db
    chain = mastering_filter(
        gain, input_rate=chapter.sample_rate, head_ms=head_ms, tail_ms=tail_ms, sample_rate=sample_rate
    )
    partial = partial_path(target)
    try:
        run_ffmpeg(
            ["-i", str(chapter.path), "-map", "0:a:0", "-map_metadata", "-1", "-af", chain,
             "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", str(partial)],
            what="master the chapter",
        )  # fmt: skip
        rate, samples = wav_info(partial)
        finish(partial, target)
    except BaseException:
        discard(partial)
        raise
    audio = ChapterAudio(
        path=target,
        sample_rate=rate,
        num_samples=samples,
        sentences=shift_timings(chapter.sentences, head_offset_ms(chapter, head_ms=head_ms)),
    )
    return Mastered(audio=audio, input_lufs=loudness.integrated_lufs, gain_db=gain)


def head_offset_ms(chapter: ChapterAudio, *, head_ms: int = HEAD_MS) -> int:
    """How far mastering moves every sentence: the head padding, in whole samples."""
    return round(_samples(head_ms, chapter.sample_rate) * 1000 / chapter.sample_rate)


def mastered_duration_ms(chapter: ChapterAudio, *, head_ms: int = HEAD_MS, tail_ms: int = TAIL_MS) -> int:
    """The length of ``chapter`` once mastered: its audio plus the room tone at both ends."""
    rate = chapter.sample_rate
    samples = chapter.num_samples + _samples(head_ms, rate) + _samples(tail_ms, rate)
    return round(samples * 1000 / rate)
