from __future__ import annotations

from django.apps import AppConfig


class TTSEngineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tts_engine"
    verbose_name = "TTS engines"

    def ready(self) -> None:
        from django.core import checks

        from tts_engine.checks import voice_pauses_check

        checks.register(voice_pauses_check)
