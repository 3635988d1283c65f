"""Running ffmpeg, and the one error every audio step raises."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
import wave
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

# Long enough for a multi-hour book on a slow worker; a hung ffmpeg still ends.
FFMPEG_TIMEOUT_SECONDS = 3 * 60 * 60
STDERR_TAIL_CHARS = 2000


class AudioError(Exception):
    """An audio step failed. ``message`` is fit for people; ffmpeg's stderr goes to the log only.

    ``retryable`` says whether running the same step again may help (a timeout,
    a missing or unreadable file), as against bad input that will fail again.
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def run_ffmpeg(args: Sequence[str], *, what: str, timeout: float = FFMPEG_TIMEOUT_SECONDS) -> str:
    """Run ffmpeg with ``args`` (after the common flags) and return its stderr.

    ``what`` names the step for the error message ("master the chapter").
    """
    command = [settings.FFMPEG_BINARY, "-hide_banner", "-nostdin", "-y", *args]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        logger.warning("ffmpeg timed out after %ss trying to %s: %s", timeout, what, command)
        raise AudioError(f"Could not {what}: audio processing took too long.", retryable=True) from error
    except OSError as error:
        logger.error("ffmpeg could not start to %s: %s (%s)", what, error, command)
        raise AudioError(f"Could not {what}: the audio tool is unavailable.", retryable=True) from error
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        logger.error(
            "ffmpeg failed (exit %s) to %s: %s\n%s",
            done.returncode,
            what,
            command,
            stderr[-STDERR_TAIL_CHARS:],
        )
        # A full disk or a killed process can pass; bad input fails the same way again.
        transient = "No space left on device" in stderr or done.returncode < 0
        raise AudioError(f"Could not {what}.", retryable=transient)
    return stderr


def partial_path(target: Path) -> Path:
    """A hidden sibling of ``target`` to write into, then rename: no half-written file is ever seen."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial{target.suffix}")


def finish(partial: Path, target: Path) -> None:
    os.replace(partial, target)


def discard(partial: Path) -> None:
    partial.unlink(missing_ok=True)


def wav_info(path: Path) -> tuple[int, int]:
    """(sample rate, number of samples) of a mono 16-bit WAV, or AudioError."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise AudioError("Audio must be mono 16-bit WAV.", retryable=False)
            return wav.getframerate(), wav.getnframes()
    except (OSError, EOFError, wave.Error) as error:
        logger.error("Unreadable WAV %s: %s", path, error)
        raise AudioError("Could not read the audio file.", retryable=isinstance(error, OSError)) from error
