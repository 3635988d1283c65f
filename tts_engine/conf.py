"""Settings for the speech engines, readable with or without Django.

The engines run in Celery workers, in the benchmark and in tests that never set
up Django, so every name is read lazily: from ``django.conf.settings`` when
Django is configured, else from the environment, else from the default here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TTSConfig:
    device: str
    voices_dir: Path | None
    models_dir: Path | None
    voice_pauses: dict[str, Any]
    """``TTS_VOICE_PAUSES``: voice key to the pauses it changes (see ``tts_engine.pauses``)."""


def _raw(name: str) -> object | None:
    try:
        from django.conf import settings  # noqa: PLC0415  (tts_engine also runs without Django)
    except ImportError:  # pragma: no cover - Django is a base dependency
        settings = None  # type: ignore[assignment]
    if settings is not None and settings.configured:
        return getattr(settings, name, None)
    return os.environ.get(name) or None


def _path(name: str) -> Path | None:
    value = _raw(name)
    return Path(str(value)).expanduser() if value else None


def _voice_pauses() -> dict[str, Any]:
    value = _raw("TTS_VOICE_PAUSES") or {}
    if isinstance(value, str):  # from the environment: JSON
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"TTS_VOICE_PAUSES is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("TTS_VOICE_PAUSES must map voice keys to pauses, as a JSON object.")
    return value


def tts_config() -> TTSConfig:
    """Read ``TTS_DEVICE``, ``TTS_VOICES_DIR``, ``TTS_MODELS_DIR`` and ``TTS_VOICE_PAUSES`` now.

    Not cached, so tests can override settings; it costs a few attribute reads.
    """
    device = str(_raw("TTS_DEVICE") or "auto").lower()
    if device not in DEVICES:
        raise ValueError(f"TTS_DEVICE must be one of {', '.join(DEVICES)}, not {device!r}")
    return TTSConfig(
        device=device,
        voices_dir=_path("TTS_VOICES_DIR"),
        models_dir=_path("TTS_MODELS_DIR"),
        voice_pauses=_voice_pauses(),
    )
