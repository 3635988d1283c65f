"""Voice previews: each voice's stock clip, stored once, and previews of a reader's own text.

Two kinds, kept apart on purpose (issue 4, "Voice catalogue"):

- **Stock previews** are about ten seconds of a voice speaking its language's
  sample text. Each is rendered once on the synthesis queue, encoded to MP3
  and stored under ``storage_keys.voice_preview_key`` (a digest of the voice,
  the normaliser version and the sample text, so a change to either makes a new
  clip). They are shared, owner-less ``StoredObject`` rows, like cached Parts,
  and are never rate limited. The first listing that finds one missing asks
  for it (at most once per ``PENDING_SECONDS``); ``manage.py
  generate_voice_previews`` makes them all ahead of time.
- **Text previews** speak up to ``MAX_PREVIEW_CHARS`` of the reader's own text.
  The web process enqueues them on the synthesis queue and waits for the MP3,
  which comes back through the result backend and is never stored: it holds
  the reader's text, and nobody else will ask for the same clip.

Nothing here imports onnxruntime or torch: rendering happens only inside the
task functions (``*_render``), which only synthesis workers run.
"""

from __future__ import annotations

import base64
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from celery.exceptions import TimeoutError as CeleryTimeout
from django.core.cache import cache
from redis.exceptions import RedisError

from audiobooks.audio import AudioError
from audiobooks.audio.mp3 import CHAPTER_MP3, encode_mp3
from audiobooks.availability import voices_offered
from audiobooks.models import StoredObject
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import stored_object_save
from ebookvoice import enqueue
from ebookvoice.errors import DomainError, TransientError
from ebookvoice.flags import voice_enabled
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN, EngineError, Voice
from tts_engine.lexicon import Applied
from tts_engine.previews import render_preview, sample_text, trim_preview_text
from tts_engine.registry import get_voice
from tts_engine.text import NORMALISER_VERSION

logger = logging.getLogger(__name__)

# A missing stock preview is asked for at most this often; the task clears
# the mark once the clip is stored, and a permanent failure is remembered
# for FAILED_SECONDS so a broken voice is not rendered on every page view.
PENDING_SECONDS = 10 * 60
FAILED_SECONDS = 60 * 60
# How long a request waits for a worker to speak the reader's text. Piper
# speaks 300 characters in about a second once its model is loaded.
TEXT_PREVIEW_WAIT_SECONDS = 30

PreviewStatus = Literal["ready", "pending", "failed"]


class PreviewError(DomainError):
    """A refusal with a message for the reader and an HTTP status."""

    code = "invalid"


class UnknownVoice(PreviewError):
    http_status = 404
    code = "unknown_voice"

    def __init__(self) -> None:
        super().__init__("There is no such voice.")


class PreviewNotReady(PreviewError):
    http_status = 202
    code = "preview_pending"
    retry_after_seconds = 5

    def __init__(self) -> None:
        super().__init__("This voice's preview is being made. Try again in a few seconds.")


class PreviewBusy(PreviewError):
    http_status = 503
    code = "preview_busy"
    retry_after_seconds = 10

    def __init__(self) -> None:
        super().__init__("Previews are busy right now. Please try again in a few seconds.")


# --- Reads -----------------------------------------------------------------------------


def voice_get(*, voice_key: str) -> Voice:
    """The voice, or ``UnknownVoice`` (404), as for one staff switched off; loads no model."""
    try:
        voice = get_voice(voice_key)
    except EngineError:
        raise UnknownVoice() from None
    if not voice_enabled(voice.key):
        raise UnknownVoice()
    return voice


def voice_preview_key(*, voice: Voice) -> str:
    digest = storage_keys.voice_preview_digest(
        voice_key=voice.key, normaliser_version=NORMALISER_VERSION, text=sample_text(voice.language)
    )
    return storage_keys.voice_preview_key(digest=digest)


def voice_preview_get(*, voice: Voice) -> StoredObject | None:
    return StoredObject.objects.filter(
        key=voice_preview_key(voice=voice), kind=StoredObject.Kind.VOICE_PREVIEW
    ).first()


@dataclass(frozen=True)
class VoiceListing:
    voice: Voice
    preview: StoredObject | None
    status: PreviewStatus


def voices_with_previews() -> list[VoiceListing]:
    """Every installed voice and its stock preview; missing previews are asked for.

    One database query and one cache round trip, however many voices.
    """
    voices = voices_offered()
    keys = {voice.key: voice_preview_key(voice=voice) for voice in voices}
    stored = {
        row.key: row
        for row in StoredObject.objects.filter(key__in=keys.values(), kind=StoredObject.Kind.VOICE_PREVIEW)
    }
    missing = [voice for voice in voices if keys[voice.key] not in stored]
    marks = _marks([keys[voice.key] for voice in missing])
    listings = []
    for voice in voices:
        key = keys[voice.key]
        if key in stored:
            listings.append(VoiceListing(voice, stored[key], "ready"))
            continue
        if marks.get(_failed_mark(key)) is None and marks.get(_pending_mark(key)) is None:
            voice_preview_request(voice_key=voice.key)
        status: PreviewStatus = "failed" if marks.get(_failed_mark(key)) else "pending"
        listings.append(VoiceListing(voice, None, status))
    return listings


# --- Stock previews ------------------------------------------------------------------


def _pending_mark(key: str) -> str:
    return f"audiobooks.voice_preview.pending:{key}"


def _failed_mark(key: str) -> str:
    return f"audiobooks.voice_preview.failed:{key}"


def _marks(keys: list[str]) -> dict[str, object]:
    if not keys:
        return {}
    try:
        return cache.get_many([mark for key in keys for mark in (_pending_mark(key), _failed_mark(key))])
    except (RedisError, OSError):
        logger.warning("voice previews: the cache cannot be reached; listing previews as pending")
        return dict.fromkeys(map(_pending_mark, keys), True)


def voice_preview_request(*, voice_key: str) -> bool:
    """Enqueue the stock preview unless it was asked for in the last ``PENDING_SECONDS``.

    The cache mark only keeps page views from flooding the queue; the task
    itself checks storage, so a duplicate message costs nothing.
    """
    key = voice_preview_key(voice=voice_get(voice_key=voice_key))
    try:
        if not cache.add(_pending_mark(key), True, timeout=PENDING_SECONDS):
            return False
    except (RedisError, OSError):
        return False  # the broker is the same Redis: nothing could be enqueued anyway
    enqueue.send_on_commit("audiobooks.synthesize_voice_preview", voice_key)
    return True


def voice_preview_generate(*, voice_key: str, force: bool = False) -> tuple[StoredObject, bool]:
    """Render, encode and store ``voice_key``'s stock preview; ``(row, made)``.

    Idempotent: when the preview is stored already it returns that row and
    does nothing, unless ``force``. Runs in a synthesis worker (it loads the
    engine's model). Raises ``UnknownVoice``, ``EngineError`` and ``OSError``.
    """
    voice = voice_get(voice_key=voice_key)
    key = voice_preview_key(voice=voice)
    if not force and (existing := voice_preview_get(voice=voice)) is not None:
        _clear_marks(key)
        return existing, False
    try:
        with tempfile.TemporaryDirectory(prefix="ebv-preview-") as folder:
            mp3 = _render_mp3(Path(folder), voice_key=voice.key, text=None, speed=1.0)
            with mp3.open("rb") as content:
                stored = stored_object_save(
                    key=key,
                    content=content,
                    kind=StoredObject.Kind.VOICE_PREVIEW,
                    content_type="audio/mpeg",
                    filename=f"{voice.name} preview.mp3",
                )
    except EngineError as error:
        if not error.retryable:
            _set_mark(_failed_mark(key), FAILED_SECONDS)
        raise
    _clear_marks(key)
    return stored, True


def _set_mark(mark: str, timeout: int) -> None:
    try:
        cache.set(mark, True, timeout=timeout)
    except (RedisError, OSError):
        logger.warning("voice previews: could not set %s", mark)


def _clear_marks(key: str) -> None:
    try:
        cache.delete_many([_pending_mark(key), _failed_mark(key)])
    except (RedisError, OSError):
        logger.warning("voice previews: could not clear the marks of %s", key)


# --- Text previews -------------------------------------------------------------------


@dataclass(frozen=True)
class TextPreviewRequest:
    voice: Voice
    text: str
    speed: float
    trimmed: bool
    lexicon: tuple[Applied, ...] = ()
    """Entries to say the text with (``tts_engine.lexicon``): a word on the lexicon page as it sounds now."""


def text_preview_validate(*, voice_key: str, text: object, speed: object) -> TextPreviewRequest:
    """Check a reader's preview before it is counted or enqueued.

    Text longer than ``MAX_PREVIEW_CHARS`` is cut at a word boundary (as the
    engine would cut it) rather than refused: a preview is a taste, and the
    reader hears where it stops.
    """
    voice = voice_get(voice_key=voice_key)
    if not isinstance(text, str) or not text.strip():
        raise PreviewError("Type some text to hear it read.")
    if "\x00" in text:
        raise PreviewError("The text cannot contain NUL characters.")
    if speed is None or speed == "":
        value = 1.0
    else:
        try:
            value = float(speed)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise PreviewError(f"Speed must be a number between {SPEED_MIN} and {SPEED_MAX}.") from None
        if not SPEED_MIN <= value <= SPEED_MAX:  # also refuses nan and inf
            raise PreviewError(f"Speed must be between {SPEED_MIN} and {SPEED_MAX}, not {speed}.")
    spoken = trim_preview_text(text)
    return TextPreviewRequest(voice, spoken, value, trimmed=len(" ".join(text.split())) > len(spoken))


def text_preview_synthesize(*, preview: TextPreviewRequest, wait_seconds: int | None = None) -> bytes:
    """Have a synthesis worker speak the preview, wait for it, and return the MP3 bytes.

    Raises ``PreviewBusy`` (503) when no worker answers in time; the message
    expires with the wait, so a worker that frees up later skips it.
    """
    wait = TEXT_PREVIEW_WAIT_SECONDS if wait_seconds is None else wait_seconds
    # No transaction is open (previews write nothing), so sending now is
    # sending on commit; send_on_commit would return no result to wait on.
    result = enqueue.publish(
        "audiobooks.synthesize_text_preview",
        preview.voice.key,
        preview.text,
        preview.speed,
        [entry.as_dict() for entry in preview.lexicon],
        expires=wait,
    )
    try:
        answer = result.get(timeout=wait)
    except CeleryTimeout:
        result.revoke()
        raise PreviewBusy() from None
    except Exception:
        logger.exception("voice previews: a text preview of %s failed", preview.voice.key)
        raise PreviewBusy() from None
    finally:
        result.forget()  # the audio held the reader's text; drop it from Redis now
    if "error" in answer:
        raise PreviewError(str(answer["error"]))
    return base64.b64decode(str(answer["mp3"]))


def text_preview_render(
    *, voice_key: str, text: str, speed: float, lexicon: list[dict[str, object]] | None = None
) -> dict[str, str | int]:
    """In a synthesis worker: the reader's text as MP3, base64 for the JSON result backend.

    Text with nothing speakable in it is an answer (``{"error": ...}``), not a failure.
    """
    applied = [Applied.from_dict(entry) for entry in lexicon or []]
    with tempfile.TemporaryDirectory(prefix="ebv-preview-") as folder:
        try:
            mp3 = _render_mp3(Path(folder), voice_key=voice_key, text=text, speed=speed, lexicon=applied)
        except ValueError as error:
            return {"error": str(error)}
        return {"mp3": base64.b64encode(mp3.read_bytes()).decode("ascii")}


# --- Rendering (workers only) ----------------------------------------------------------


def _render_mp3(
    folder: Path, *, voice_key: str, text: str | None, speed: float, lexicon: Sequence[Applied] = ()
) -> Path:
    wav = render_preview(
        folder / "preview.wav", voice_key=voice_key, text=text, speed=speed, lexicon=lexicon
    ).path
    try:
        return encode_mp3(wav, folder / "preview.mp3", profile=CHAPTER_MP3)  # 64 kb/s mono, untagged
    except AudioError as error:
        if error.retryable:  # the task tries again, within its retries
            raise TransientError(str(error)) from error
        raise
