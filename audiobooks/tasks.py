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
