from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TTSEngineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tts_engine"
    verbose_name = "TTS engines"

    def ready(self) -> None:
        from django.apps import apps
        from django.core import checks

        from tts_engine.checks import voice_pauses_check

        from .catalogue import voice_switches_ensure

        checks.register(voice_pauses_check)
        # post_migrate is sent only for apps with models, so once for waffle's, after every migration.
        post_migrate.connect(
            voice_switches_ensure,
            sender=apps.get_app_config("waffle"),
            dispatch_uid="tts-voice-switches",
        )
