"""WebVTT captions from sentence timings.

A long sentence becomes several cues of at most two lines of ``LINE_CHARS``
each, its time shared among them by their number of characters (speech runs
at a roughly even rate of characters). Text is escaped as WebVTT requires; a
caption is text, never markup.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from audiobooks.audio.ffmpeg import discard, finish, partial_path
from tts_engine.speech import SentenceTiming

LINE_CHARS = 42
MAX_LINES = 2


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]


def timestamp(ms: int) -> str:
    hours, rest = divmod(max(0, ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cue_groups(text: str) -> list[tuple[str, ...]]:
    lines = textwrap.wrap(" ".join(text.split()), LINE_CHARS, break_on_hyphens=False)
    return [tuple(lines[i : i + MAX_LINES]) for i in range(0, len(lines), MAX_LINES)]


def sentence_cues(sentences: Sequence[SentenceTiming], *, duration_ms: int | None = None) -> Iterator[Cue]:
    """Cues in time order; each sentence's time shared among its cues by characters."""
    for sentence in sentences:
        groups = _cue_groups(sentence.text)
        start, end = sentence.start_ms, sentence.end_ms
        if duration_ms is not None:
            start, end = min(start, duration_ms), min(end, duration_ms)
        if not groups or end <= start:
            continue
        weights = [sum(len(line) for line in group) for group in groups]
        total, done = sum(weights), 0
        cue_start = start
        for group, weight in zip(groups, weights, strict=True):
            done += weight
            cue_end = start + round((end - start) * done / total)
            if cue_end > cue_start:
                yield Cue(cue_start, cue_end, group)
                cue_start = cue_end


def render_vtt(sentences: Sequence[SentenceTiming], *, duration_ms: int | None = None) -> str:
    blocks = ["WEBVTT"]
    for cue in sentence_cues(sentences, duration_ms=duration_ms):
        text = "\n".join(escape(line) for line in cue.lines)
        blocks.append(f"{timestamp(cue.start_ms)} --> {timestamp(cue.end_ms)}\n{text}")
    return "\n\n".join(blocks) + "\n"


def write_vtt(target: Path, sentences: Sequence[SentenceTiming], *, duration_ms: int | None = None) -> Path:
    """Write the captions to ``target`` (UTF-8), appearing only when complete."""
    partial = partial_path(target)
    try:
        partial.write_text(render_vtt(sentences, duration_ms=duration_ms), encoding="utf-8")
        finish(partial, target)
    except BaseException:
        discard(partial)
        raise
    return target
