"""Celery tasks for books: thin callers of services, taking ids, safe to repeat.

Nothing imports this module but Celery's autodiscovery: code that wants one of
these run sends it by name through ``ebookvoice.enqueue``. Each task retries
only ``TRANSIENT_ERRORS`` (the database, broker, storage or mail server out of
reach for a moment); a bug of ours fails at once instead of being retried as
if it were the network's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from celery import shared_task
from celery.signals import beat_init

from ebookvoice.errors import TRANSIENT_ERRORS, TransientError
from tts_engine.engines.base import EngineError

from . import services
from .delivery.email import conversion_finished_email_send
from .idempotency import idempotency_records_purge
from .pipeline.assemble import conversion_assemble
from .pipeline.mastering import chapter_master
from .pipeline.reaper import ReaperThread, conversions_reap
from .pipeline.render import part_render
from .pipeline.retag import book_files_retag
from .storage.lifecycle import purge_expired
from .voices.previews import text_preview_render, voice_preview_generate


@shared_task(
    name="audiobooks.ingest_book",
    # Reading the original from storage can fail for a moment; the parse itself
    # never raises for a bad file (that becomes the book's error message).
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def ingest_book(book_id: int) -> None:
    services.book_ingest(book_id=book_id)


@shared_task(
    name="audiobooks.purge_expired_storage", autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3
)
def purge_expired_storage() -> None:
    """What ``manage.py purge_expired`` does, run by Celery beat (``CELERY_BEAT_SCHEDULE``)."""
    purge_expired()
    idempotency_records_purge()


@shared_task(
    name="audiobooks.synthesize_voice_preview",  # routed to the synthesis queue
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=3,
)
def synthesize_voice_preview(voice_key: str, force: bool = False) -> bool:
    """Render and store one voice's stock preview; does nothing when it is stored already.

    Returns whether a clip was made. An unknown voice or a broken model fails
    at once (no retry).
    """
    try:
        _, made = voice_preview_generate(voice_key=voice_key, force=force)
    except EngineError as error:
        if error.retryable:  # out of memory, a GPU hiccup
            raise TransientError(error.message) from error
        raise
    return made


@shared_task(name="audiobooks.synthesize_text_preview")  # routed to the synthesis queue
def synthesize_text_preview(
    voice_key: str, text: str, speed: float, lexicon: list[dict[str, object]] | None = None
) -> dict[str, str | int]:
    """Speak a reader's text (at most 300 characters) as MP3, returned base64 to the waiting request.

    Not retried: the request that asked waits only seconds, and would rather
    hear "try again" than a late answer nobody reads.
    """
    return text_preview_render(voice_key=voice_key, text=text, speed=speed, lexicon=lexicon)


# --- The conversion pipeline (audiobooks.pipeline) ---------------------------------------
# Each takes an id and does nothing when the row no longer waits for it, so a
# message sent twice, or again by the reaper, is harmless.

# Longer than a Part of about 5,000 characters takes on a slow CPU; far
# shorter than the broker's visibility timeout (6 h), so no Part is
# delivered twice while it runs.
PART_SOFT_TIME_LIMIT_SECONDS = 30 * 60
ASSEMBLY_SOFT_TIME_LIMIT_SECONDS = 2 * 60 * 60


@shared_task(
    name="audiobooks.synthesize_part",  # routed to the synthesis queue
    ignore_result=True,
    soft_time_limit=PART_SOFT_TIME_LIMIT_SECONDS,
    time_limit=PART_SOFT_TIME_LIMIT_SECONDS + 60,
)
def synthesize_part(part_id: int) -> None:
    part_render(part_id=part_id)


# Mastering a chapter and building the M4B: storage or ffmpeg trouble is
# retried; the rows count the attempts and fail the conversion past them.
_ASSEMBLY_TASK: dict[str, Any] = {
    "ignore_result": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_kwargs": {"max_retries": 3},
    "retry_backoff": 5,
    "soft_time_limit": ASSEMBLY_SOFT_TIME_LIMIT_SECONDS,
    "time_limit": ASSEMBLY_SOFT_TIME_LIMIT_SECONDS + 60,
}


@shared_task(name="audiobooks.master_chapter", **_ASSEMBLY_TASK)
def master_chapter(conversion_chapter_id: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ebv-chapter-") as workdir:
        chapter_master(conversion_chapter_id=conversion_chapter_id, workdir=Path(workdir))


@shared_task(name="audiobooks.assemble_book", **_ASSEMBLY_TASK)
def assemble_book(conversion_id: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ebv-book-") as workdir:
        conversion_assemble(conversion_id=conversion_id, workdir=Path(workdir))


@shared_task(
    name="audiobooks.notify_conversion_finished",
    ignore_result=True,
    autoretry_for=TRANSIENT_ERRORS,  # the mail server, for a moment
    retry_backoff=30,
    max_retries=5,
)
def notify_conversion_finished(conversion_id: int) -> None:
    conversion_finished_email_send(conversion_id=conversion_id)


@shared_task(name="audiobooks.reap_conversions", ignore_result=True)
def reap_conversions() -> None:
    """One reaper round on demand (``celery call``); beat runs the reaper on a thread of its own."""
    conversions_reap()


@beat_init.connect(dispatch_uid="audiobooks.reaper_thread")
def start_reaper(**_: Any) -> None:
    """Reap and dispatch every ``PIPELINE_REAP_EVERY_SECONDS`` in beat's process, whatever the queues do.

    Sent through the light queue, a round waited behind assemblies (and
    expired unrun); here nothing but beat's own schedule shares the process.
    Beat embedded in a worker (``worker --beat``) runs in a process of its own
    too, and sends the same signal.
    """
    ReaperThread().start()


@shared_task(
    name="audiobooks.retag_book_files", autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5
)
def retag_book_files(book_id: int) -> int:
    """The tags of the book's finished files follow an edit of its details (``pipeline.retag``)."""
    return book_files_retag(book_id=book_id)
