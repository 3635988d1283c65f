"""The voice catalogue as rows for people (``voices`` command, pages), and the voice a book starts in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ebookvoice import flags
from tts_engine.engines.base import Voice
from tts_engine.registry import DEFAULT_VOICE, ENGINES, installed_engines, list_voices
from tts_engine.text import primary_language

VoiceFilter = Callable[[list[Voice]], list[Voice]]


@dataclass(frozen=True)
class Catalogue:
    voices: list[Voice]
    missing_engines: list[str]
    """Engines whose optional packages are not installed, so not listed."""


def voice_catalogue(
    *, engine: str | None = None, language: str | None = None, enabled: VoiceFilter | None = None
) -> Catalogue:
    """Installed voices; only those ``enabled`` keeps when it is given.

    The apps pass ``ebookvoice.flags.voices_enabled``, so voices staff
    switched off are left out; the ``voices`` command lists them all.
    """
    installed = installed_engines()
    wanted = [engine] if engine else list(ENGINES)
    voices = list_voices(engines=[name for name in wanted if name in installed], language=language)
    return Catalogue(
        voices=voices if enabled is None else enabled(voices),
        missing_engines=[name for name in wanted if name not in installed],
    )


def default_voice_for(*, language: str, voice_keys_and_languages: Sequence[tuple[str, str]]) -> str:
    """The voice a book in ``language`` starts with, among the voices offered as ``(key, language)``.

    The default voice if it speaks the book's language, else the first that
    does, else the default (when offered), else the first offered.
    """
    keys = [key for key, _ in voice_keys_and_languages]
    wanted = primary_language(language or "en")
    speaking = [key for key, spoken in voice_keys_and_languages if primary_language(spoken) == wanted]
    if DEFAULT_VOICE in speaking or (not speaking and DEFAULT_VOICE in keys):
        return DEFAULT_VOICE
    return (speaking or keys or [DEFAULT_VOICE])[0]


def voice_switches_ensure(**_: Any) -> None:
    """After ``migrate``: one switch per engine and per installed voice (off), for staff to find."""
    switches = {
        flags.engine_switch(engine): f"On: every {engine} voice is hidden and refused." for engine in ENGINES
    }
    try:
        voices = voice_catalogue().voices
    except Exception:
        flags.logger.warning("could not list voices to create their switches", exc_info=True)
        voices = []
    for voice in voices:
        if (
            len(flags.voice_switch(voice.key)) <= 100
        ):  # waffle's limit; a longer one is switched off by engine only
            switches[flags.voice_switch(voice.key)] = f"On: the voice {voice.name} is hidden and refused."
    flags.switches_ensure(switches)
