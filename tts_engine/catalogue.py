"""The voice catalogue as rows for people: the ``voices`` command and pages."""

from __future__ import annotations

from dataclasses import dataclass

from tts_engine.engines.base import Voice
from tts_engine.registry import ENGINES, installed_engines, list_voices


@dataclass(frozen=True)
class Catalogue:
    voices: list[Voice]
    missing_engines: list[str]
    """Engines whose optional packages are not installed, so not listed."""


def voice_catalogue(*, engine: str | None = None, language: str | None = None) -> Catalogue:
    installed = installed_engines()
    wanted = [engine] if engine else list(ENGINES)
    return Catalogue(
        voices=list_voices(engines=[name for name in wanted if name in installed], language=language),
        missing_engines=[name for name in wanted if name not in installed],
    )
