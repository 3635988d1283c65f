"""Refusals staff can switch on in the admin (``ebookvoice.flags``): maintenance, and voices turned off.

Each is one call at the top of a service, so nothing is written or charged
before it refuses.
"""

from __future__ import annotations

from ebookvoice import flags

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


def refuse_disabled_voice(voice_key: str) -> None:
    if not flags.voice_enabled(voice_key):
        raise VoiceUnavailable(
            f"The voice {voice_key!r} is not available at the moment. "
            "Please choose another one from the list."
        )
