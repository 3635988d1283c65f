from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tts_engine.catalogue import voice_catalogue
from tts_engine.registry import ENGINES

COLUMNS = ("engine", "id", "language", "quality", "licence", "sample rate")


class Command(BaseCommand):
    help = (
        "List every voice the installed speech engines can use: engine, voice id, language, "
        "quality, licence and sample rate. Voices whose licence forbids commercial use are "
        "marked 'non-commercial'. Reads TTS_VOICES_DIR and TTS_MODELS_DIR; loads no model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--engine", choices=sorted(ENGINES), help="only this engine's voices")
        parser.add_argument("--language", help="only voices of this language, e.g. 'en' or 'en-GB'")

    def handle(self, *args: Any, **options: Any) -> None:
        # Every installed voice, switched off by staff or not: operators see what the machine has.
        catalogue = voice_catalogue(engine=options["engine"], language=options["language"])
        rows = [
            (
                voice.engine,
                voice.id,
                voice.language,
                voice.quality or "-",
                voice.licence + (" [non-commercial]" if voice.non_commercial else ""),
                f"{voice.sample_rate} Hz",
            )
            for voice in catalogue.voices
        ]
        widths = [max(len(str(cell)) for cell in column) for column in zip(COLUMNS, *rows, strict=False)]
        for row in (COLUMNS, *rows):
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
        for name in catalogue.missing_engines:
            self.stdout.write(f"({name}: not installed, so its voices are not listed)")
        non_commercial = sum(voice.non_commercial for voice in catalogue.voices)
        engines = len({voice.engine for voice in catalogue.voices})
        self.stdout.write(
            f"{len(rows)} voice{'s' * (len(rows) != 1)} from {engines} engine{'s' * (engines != 1)}, "
            f"{non_commercial} non-commercial."
        )
