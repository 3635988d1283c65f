"""System checks: a bad speech setting is reported when a process starts, not when a Part renders."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

from tts_engine.pauses import configured_pauses_errors


def voice_pauses_check(**kwargs: Any) -> list[CheckMessage]:
    return [
        Error(message, hint="See tts_engine/pauses.py for the pause names.", id="tts_engine.E001")
        for message in configured_pauses_errors()
    ]
