"""The engines by name, as dotted paths imported on first use.

Like healthchecks' ``TRANSPORTS`` map: importing this module, or listing voices,
never imports onnxruntime or torch, so the web process stays small. A worker
calls ``get_engine`` and keeps the one instance (and its loaded model) for the
life of the process.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util

from tts_engine.engines.base import Engine, EngineError, Voice
from tts_engine.text import primary_language

ENGINES: dict[str, str] = {
    "piper": "tts_engine.engines.piper.PiperEngine",
    "coqui": "tts_engine.engines.coqui.CoquiEngine",
}
# Top-level modules each engine needs, checked with find_spec (no import).
REQUIRES: dict[str, tuple[str, ...]] = {
    "piper": ("onnxruntime", "piper"),
    "coqui": ("torch", "TTS"),
}
DEFAULT_ENGINE = "piper"
DEFAULT_VOICE = "piper:en_US-joe-medium"


def engine_class(name: str) -> type[Engine]:
    try:
        module_name, _, class_name = ENGINES[name].rpartition(".")
    except KeyError:
        raise EngineError(f"unknown engine {name!r}", retryable=False) from None
    cls: type[Engine] = getattr(importlib.import_module(module_name), class_name)
    return cls


def is_installed(name: str) -> bool:
    """Whether an engine's optional packages are present, without importing them."""
    return all(importlib.util.find_spec(module) is not None for module in REQUIRES.get(name, ()))


def installed_engines() -> list[str]:
    return [name for name in ENGINES if is_installed(name)]


def get_engine(name: str = DEFAULT_ENGINE) -> Engine:
    """The process-wide instance of an engine, built from settings."""
    return _engine(name)


@functools.cache
def _engine(name: str) -> Engine:
    # Cached apart from get_engine so that get_engine() and
    # get_engine("piper") share one instance and so one loaded model.
    if name in ENGINES and not is_installed(name):
        raise EngineError(f"the {name} engine's packages are not installed", retryable=False)
    return engine_class(name)()


def split_voice_key(key: str) -> tuple[str, str]:
    """``"piper:en_US-joe-medium"`` gives ``("piper", "en_US-joe-medium")``."""
    engine, sep, voice_id = key.partition(":")
    if not sep or not voice_id or engine not in ENGINES:
        raise EngineError(f"not a voice key: {key!r}", retryable=False)
    return engine, voice_id


def get_voice(key: str) -> Voice:
    engine, voice_id = split_voice_key(key)
    return get_engine(engine).voice(voice_id)


def list_voices(*, engines: list[str] | None = None, language: str | None = None) -> list[Voice]:
    """The voice catalogue of every installed engine, or of those named.

    ``language`` filters on the primary subtag, so "en" matches en-US and en-GB.
    """
    wanted = primary_language(language) if language else None
    voices: list[Voice] = []
    for name in engines if engines is not None else installed_engines():
        voices.extend(
            voice
            for voice in get_engine(name).voices()
            if wanted is None or primary_language(voice.language) == wanted
        )
    return voices
