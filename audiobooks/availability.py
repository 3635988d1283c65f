"""What staff can switch off in the admin (``ebookvoice.flags``): new work in maintenance, and voices.

Each refusal is one call at the top of a service, so nothing is written or
charged before it refuses; ``voices_offered`` is the catalogue without the
voices switched off.
"""

from __future__ import annotations

from ebookvoice import flags
from tts_engine.catalogue import voice_catalogue
from tts_engine.engines.base import Voice

from .errors import BookError, UnknownVoice


class InMaintenance(BookError):
    """New uploads and conversions are paused; what exists stays playable and downloadable."""

    code = "maintenance"
    http_status = 503
    retry_after_seconds = 600


class VoiceUnavailable(UnknownVoice):
    code = "voice_unavailable"
    http_status = 409


def refuse_new_work_in_maintenance() -> None:
    if flags.maintenance_on():
        raise InMaintenance(flags.MAINTENANCE_MESSAGE)


def voices_offered() -> list[Voice]:
    """Every installed voice that staff have not switched off, itself or through its engine."""
    return voice_catalogue(enabled=flags.voices_enabled).voices


def refuse_disabled_voice(voice_key: str) -> None:
    if not flags.voice_enabled(voice_key):
        raise VoiceUnavailable(
            f"The voice {voice_key!r} is not available at the moment. "
            "Please choose another one from the list."
        )
