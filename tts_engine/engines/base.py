"""The one interface every speech engine implements.

Shaped like healthchecks' ``Transport``: a small base class, and one error type
that says whether trying again can help. Nothing here imports onnxruntime or
torch; engine modules import those only when a model is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt

PCM = npt.NDArray[np.int16]
"""Mono signed 16-bit samples at the voice's sample rate."""

SPEED_MIN = 0.5
SPEED_MAX = 2.0


class EngineError(Exception):
    """A synthesis failure.

    ``retryable`` is False when the same request can never succeed (an unknown
    voice, a missing or broken model file, a device that is not there) and True
    when another attempt may (the runtime ran out of memory, a GPU hiccup).
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


# "CC BY-NC 4.0", "CC-BY-NC-SA-4.0", "non-commercial", and Coqui's CPML (the
# licence of XTTS), which forbids commercial use.
_NON_COMMERCIAL = re.compile(r"(\bNC\b|-NC-|\bnon[- ]?commercial\b|\bCPML\b)", re.IGNORECASE)


def is_non_commercial(licence: str) -> bool:
    """True when a licence name says the voice may not be used commercially."""
    return bool(_NON_COMMERCIAL.search(licence))


@dataclass(frozen=True)
class Voice:
    """One selectable voice: a model, or one speaker of a multi-speaker model."""

    engine: str
    id: str
    name: str
    language: str
    quality: str
    licence: str
    sample_rate: int
    speaker: str | None = None

    @property
    def key(self) -> str:
        """``engine:id``, the string stored on a conversion and in cache keys."""
        return f"{self.engine}:{self.id}"

    @property
    def display_name(self) -> str:
        """The name people see and audio tags carry: ``Joe`` for ``joe``, ``Kathleen`` for ``kathleen``."""
        return self.name.replace("_", " ").title()

    @property
    def non_commercial(self) -> bool:
        return is_non_commercial(self.licence)

    def with_speakers(self, speakers: Iterable[str]) -> list[Voice]:
        """This model as voices: itself when it has one speaker, else one voice per speaker."""
        per_speaker = [
            replace(self, id=f"{self.id}:{speaker}", name=f"{self.name} ({speaker})", speaker=speaker)
            for speaker in speakers
        ]
        return per_speaker or [self]


class Engine(ABC):
    """A text-to-speech back end.

    One instance per process (see ``tts_engine.registry.get_engine``): models are
    loaded on first use and kept, so a worker pays the load once.
    """

    name: ClassVar[str]
    max_chunk_chars: ClassVar[int]
    """The longest text ``synthesize`` accepts as one chunk."""

    @abstractmethod
    def voices(self) -> list[Voice]:
        """The voices this engine can speak with, without loading any model."""

    def voice(self, voice_id: str) -> Voice:
        for voice in self.voices():
            if voice.id == voice_id:
                return voice
        raise EngineError(f"{self.name} has no voice {voice_id!r}", retryable=False)

    def sample_rate(self, voice_id: str) -> int:
        return self.voice(voice_id).sample_rate

    @abstractmethod
    def model_files(self, voice_id: str) -> list[Path]:
        """The files a voice's audio depends on (weights and config), found without loading them."""

    def model_digest(self, voice_id: str) -> str:
        """A sha256 over the voice's model files: the render cache keys on it, so new weights re-render."""
        digest = hashlib.sha256()
        for path in self.model_files(voice_id):
            stat = path.stat()
            digest.update(_file_digest(path, stat.st_size, stat.st_mtime_ns).encode())
        return digest.hexdigest()

    @staticmethod
    def check_speed(speed: float) -> None:
        if not SPEED_MIN <= speed <= SPEED_MAX:
            raise EngineError(
                f"speed must be between {SPEED_MIN} and {SPEED_MAX}, not {speed}", retryable=False
            )

    def phoneme_symbols(self, voice_id: str) -> frozenset[str] | None:
        """The phoneme symbols a voice takes inline (``tts_engine.lexicon``), or None when it takes none.

        Found without loading a model. The default: an engine reads text only.
        """
        return None

    def check_chunk(self, chunk: str) -> None:
        if len(chunk) > self.max_chunk_chars:
            raise EngineError(
                f"a chunk of {len(chunk)} characters exceeds {self.name}'s limit of {self.max_chunk_chars}",
                retryable=False,
            )

    @abstractmethod
    def synthesize(self, chunks: Iterable[str], *, voice_id: str, speed: float = 1.0) -> Iterator[PCM]:
        """Speak each chunk, yielding exactly one PCM array per chunk, in order.

        ``chunks`` is consumed lazily, so a caller can stream a whole chapter
        through without building it in memory; each chunk must be at most
        ``max_chunk_chars`` long and already normalised for speech. ``speed``
        is 1.0 for the voice's natural pace, 2.0 for twice as fast.
        Raises ``EngineError``.
        """


@functools.cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    # size and mtime are in the key so a replaced file is read again; a model is
    # read once per process (about 0.1 s for Piper's 60 MB), never loaded.
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
