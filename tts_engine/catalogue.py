"""The voice catalogue as rows for people: the ``voices`` command and pages."""

from __future__ import annotations

from dataclasses import dataclass

from ebookvoice.flags import voices_enabled
from tts_engine.engines.base import Voice
from tts_engine.registry import ENGINES, installed_engines, list_voices


@dataclass(frozen=True)
class Catalogue:
    voices: list[Voice]
    missing_engines: list[str]
    """Engines whose optional packages are not installed, so not listed."""


def voice_catalogue(
    *, engine: str | None = None, language: str | None = None, include_disabled: bool = False
) -> Catalogue:
    """Installed voices; those staff switched off (``ebookvoice.flags``) only with ``include_disabled``."""
    installed = installed_engines()
    wanted = [engine] if engine else list(ENGINES)
    voices = list_voices(engines=[name for name in wanted if name in installed], language=language)
    return Catalogue(
        voices=voices if include_disabled else voices_enabled(voices),
        missing_engines=[name for name in wanted if name not in installed],
    )
