"""Helpers for tests of audio: synthetic tones, and a strict WebVTT reader."""

from __future__ import annotations

import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"
_TIMING = re.compile(rf"^{_TIME} --> {_TIME}$")


def write_tone(
    path: Path, *, seconds: float, rate: int = 22050, freq: float = 440.0, dbfs: float = -6.0, seed: int = 0
) -> Path:
    """A mono 16-bit WAV: a sine at ``dbfs`` peak with a little noise, speech-like in level."""
    t = np.arange(round(seconds * rate)) / rate
    amplitude = 10 ** (dbfs / 20)
    wobble = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)  # syllable-rate envelope
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    signal = np.clip(amplitude * wobble * np.sin(2 * np.pi * freq * t) + noise, -1, 1)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


@dataclass(frozen=True)
class ParsedCue:
    start_ms: int
    end_ms: int
    text: str


def _ms(groups: tuple[str, ...]) -> int:
    hours, minutes, seconds, millis = (int(g) for g in groups)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def parse_vtt(text: str) -> list[ParsedCue]:
    """Cues of a WebVTT file in our subset, or ValueError: header, blank-line blocks, timing line, text.

    Text must contain no raw ``<`` or ``>`` and only the ``&amp;``, ``&lt;``,
    ``&gt;`` escapes; it is returned unescaped.
    """
    if not text.startswith("WEBVTT\n") or not text.endswith("\n"):
        raise ValueError("missing WEBVTT header or final newline")
    blocks = text[len("WEBVTT\n") :].strip("\n").split("\n\n") if text.strip() != "WEBVTT" else []
    cues = []
    for block in blocks:
        lines = block.split("\n")
        match = _TIMING.match(lines[0])
        if not match or len(lines) < 2 or any(not line.strip() for line in lines[1:]):
            raise ValueError(f"bad cue block: {block!r}")
        body = "\n".join(lines[1:])
        if "<" in body or ">" in body or "-->" in body:
            raise ValueError(f"unescaped markup in {body!r}")
        if re.search(r"&(?!amp;|lt;|gt;)", body):
            raise ValueError(f"bare ampersand in {body!r}")
        start, end = _ms(match.groups()[:4]), _ms(match.groups()[4:])
        if end <= start:
            raise ValueError(f"cue ends before it starts: {lines[0]}")
        unescaped = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append(ParsedCue(start, end, unescaped))
    return cues


def probe(path: Path) -> str:
    """What ``ffmpeg -i`` says about ``path`` (imageio-ffmpeg ships no ffprobe)."""
    done = subprocess.run(
        [settings.FFMPEG_BINARY, "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        check=False,
    )
    return done.stderr.decode(errors="replace")
