"""The silences that mark a book's structure, and how each voice sets them.

A voice's pauses are these defaults with its entry in ``TTS_VOICE_PAUSES``
laid over them: a mapping of voice keys to the pauses that voice changes,
e.g. ``{"piper:en_US-joe-medium": {"title_ms": 1800}}``. A slow voice may want
shorter pauses, a fast one longer. The pauses are part of the render-cache
key, so changing them renders the audio again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from tts_engine.conf import tts_config

MAX_PAUSE_MS = 10_000


@dataclass(frozen=True)
class Pauses:
    """Silence in milliseconds after a sentence, a paragraph, a section heading and the chapter's title.

    The pause after a paragraph's last sentence replaces, not adds to, the
    sentence pause.
    """

    sentence_ms: int = 300
    paragraph_ms: int = 800
    heading_ms: int = 1000
    title_ms: int = 1500

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PAUSE_MS:
                raise ValueError(f"{name} must be a whole number of milliseconds from 0 to {MAX_PAUSE_MS}.")

    @classmethod
    def from_settings(cls, values: object, *, voice_key: str) -> Pauses:
        """Pauses from one ``TTS_VOICE_PAUSES`` entry; ValueError saying what is wrong with it."""
        where = f"TTS_VOICE_PAUSES[{voice_key!r}]"
        if not isinstance(values, dict):
            raise ValueError(f"{where} must map pause names to milliseconds, not {values!r}.")
        names = [field.name for field in fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(
                f"{where} names no pause {', '.join(unknown)}; the pauses are {', '.join(names)}."
            )
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def voice_pauses(voice_key: str) -> Pauses:
    """The pauses ``voice_key`` (``engine:voice``) speaks with."""
    values = tts_config().voice_pauses.get(voice_key)
    return Pauses() if values is None else Pauses.from_settings(values, voice_key=voice_key)


def configured_pauses_errors() -> list[str]:
    """What is wrong with ``TTS_VOICE_PAUSES``, one message per fault; empty when all is well."""
    try:
        configured = tts_config().voice_pauses
    except ValueError as exc:
        return [str(exc)]
    errors = []
    for voice_key, values in configured.items():
        try:
            Pauses.from_settings(values, voice_key=voice_key)
        except ValueError as exc:
            errors.append(str(exc))
    return errors
