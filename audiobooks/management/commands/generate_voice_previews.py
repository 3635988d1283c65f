from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audiobooks.availability import voices_offered
from audiobooks.voices import previews
from ebookvoice import enqueue


class Command(BaseCommand):
    help = (
        "Make the stored ~10 s MP3 preview of every installed voice (or of --voice KEY) that has "
        "none yet. Enqueues one audiobooks.synthesize_voice_preview task per missing preview on the "
        "synthesis queue, so a synthesis worker must be running; --wait waits for them, --sync "
        "renders here instead (loading the engine in this process). Stored previews are skipped "
        "unless --force. The web app also asks for a missing preview the first time /voices/ "
        "lists it, so running this after a deploy only saves the first visitors a wait."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--voice", metavar="KEY", help="Only this voice, e.g. piper:en_US-joe-medium.")
        parser.add_argument("--force", action="store_true", help="Render again even when stored.")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true", help="Wait for the workers to finish.")
        mode.add_argument("--sync", action="store_true", help="Render in this process, not in a worker.")
        parser.add_argument(
            "--timeout", type=int, default=600, help="Seconds --wait waits in all (default 600)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["voice"]:
            try:
                voices = [previews.voice_get(voice_key=options["voice"])]
            except previews.UnknownVoice:
                raise CommandError(f"There is no voice {options['voice']!r}; see manage.py voices.") from None
        else:
            voices = voices_offered()
        force = options["force"]
        todo = [voice for voice in voices if force or previews.voice_preview_get(voice=voice) is None]
        stored = len(voices) - len(todo)
        started = time.monotonic()
        if options["sync"]:
            for voice in todo:
                previews.voice_preview_generate(voice_key=voice.key, force=force)
                self.stdout.write(f"{voice.key}: made")
            verb = "Made"
        else:
            # No transaction is open here, so sending now is sending after commit.
            results = [
                (voice, enqueue.publish("audiobooks.synthesize_voice_preview", voice.key, force))
                for voice in todo
            ]
            verb = "Enqueued"
            if options["wait"]:
                deadline = started + options["timeout"]
                for voice, result in results:
                    result.get(timeout=max(1.0, deadline - time.monotonic()))
                    self.stdout.write(f"{voice.key}: made")
                verb = "Made"
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"{verb} {len(todo)} voice preview{'s' if len(todo) != 1 else ''} "
            f"({stored} already stored) in {elapsed:.1f} s."
        )
