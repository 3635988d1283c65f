"""Celery tasks for books: thin callers of services, taking ids, safe to repeat."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(
    name="audiobooks.ingest_book",
    # Reading the original from storage can fail for a moment; the parse itself
    # never raises for a bad file (that becomes the book's error message).
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def ingest_book(book_id: int) -> None:
    services.book_ingest(book_id=book_id)


@shared_task(
    name="audiobooks.purge_expired_storage", autoretry_for=(OSError,), retry_backoff=True, max_retries=3
)
def purge_expired_storage() -> None:
    """What ``manage.py purge_expired`` does, run by Celery beat (``CELERY_BEAT_SCHEDULE``)."""
    from .storage.lifecycle import purge_expired

    purge_expired()


class _RetryableEngineError(Exception):
    """An ``EngineError`` that says another attempt may help (out of memory, a GPU hiccup)."""


@shared_task(
    name="audiobooks.synthesize_voice_preview",  # routed to the synthesis queue
    autoretry_for=(OSError, _RetryableEngineError),
    retry_backoff=True,
    max_retries=3,
)
def synthesize_voice_preview(voice_key: str, force: bool = False) -> bool:
    """Render and store one voice's stock preview; does nothing when it is stored already.

    Returns whether a clip was made. An unknown voice or a broken model fails
    at once (no retry).
    """
    from tts_engine.engines.base import EngineError

    from .previews import voice_preview_generate

    try:
        _, made = voice_preview_generate(voice_key=voice_key, force=force)
    except EngineError as error:
        if error.retryable:
            raise _RetryableEngineError(error.message) from error
        raise
    return made


@shared_task(name="audiobooks.synthesize_text_preview")  # routed to the synthesis queue
def synthesize_text_preview(voice_key: str, text: str, speed: float) -> dict[str, str | int]:
    """Speak a reader's text (at most 300 characters) as MP3, returned base64 to the waiting request.

    Not retried: the request that asked waits only seconds, and would rather
    hear "try again" than a late answer nobody reads.
    """
    from .previews import text_preview_render

    return text_preview_render(voice_key=voice_key, text=text, speed=speed)
