"""Join a chapter's Part WAVs into one chapter WAV, streaming, with sentence timings offset."""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from audiobooks.audio.ffmpeg import AudioError, discard, finish, partial_path, wav_info
from tts_engine.speech import RenderResult, SentenceTiming

BLOCK_FRAMES = 64 * 1024  # 128 KiB of 16-bit mono at a time


@dataclass(frozen=True)
class ChapterAudio(RenderResult):
    """A chapter's audio file with the timings of its sentences (milliseconds into the file).

    Its own type, though it adds nothing, so that mastering cannot be handed one Part's audio.
    """


def shift_timings(sentences: Sequence[SentenceTiming], offset_ms: int) -> list[SentenceTiming]:
    return [replace(s, start_ms=s.start_ms + offset_ms, end_ms=s.end_ms + offset_ms) for s in sentences]


def concat_parts(parts: Sequence[RenderResult], target: Path) -> ChapterAudio:
    """Write ``parts`` (mono 16-bit WAVs of one sample rate, in order) to ``target`` as one WAV.

    Offsets come from each file's own sample count, not the recorded one, so
    the timings match the audio even if a record was off. ``target`` appears
    only when complete.
    """
    if not parts:
        raise AudioError("A chapter needs at least one part.", retryable=False)
    rates = {wav_info(part.path)[0] for part in parts}
    if len(rates) != 1:
        raise AudioError("The parts of a chapter must share one sample rate.", retryable=False)
    rate = rates.pop()
    partial = partial_path(target)
    sentences: list[SentenceTiming] = []
    written = 0
    try:
        with wave.open(str(partial), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            for part in parts:
                offset_ms = round(written * 1000 / rate)
                sentences.extend(shift_timings(part.sentences, offset_ms))
                with wave.open(str(part.path), "rb") as source:
                    while frames := source.readframes(BLOCK_FRAMES):
                        out.writeframesraw(frames)
                        written += len(frames) // 2
        finish(partial, target)
    except BaseException:
        discard(partial)
        raise
    return ChapterAudio(path=target, sample_rate=rate, num_samples=written, sentences=sentences)
