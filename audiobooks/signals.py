"""Glue from account deletion to storage: ``accounts`` must not know about books, so we listen.

Django's ``pre_delete`` for the user model fires for every way a user is
deleted (``accounts.services.user_delete``, the admin, a shell). The rows
go with the user (``StoredObject.owner`` cascades); the objects are deleted
once the deletion commits, and not at all if it rolls back.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction

from accounts.models import User
from credits.pricing import format_credits

from . import selectors
from .models import Book
from .storage.services import user_objects_delete


def user_storage_delete_on_commit(sender: type[User], instance: User, **kwargs: Any) -> None:
    transaction.on_commit(partial(user_objects_delete, user_uuid=instance.uuid), robust=True)


def user_books_export(*, user: User, **kwargs: Any) -> dict[str, Any]:
    """The books section of a person's data export: what they uploaded and what was read from it."""
    books = (
        Book.objects.filter(owner=user)
        .select_related("listening_progress")
        .prefetch_related("chapters", "bookmarks", "conversions")
        .order_by("created_at")
    )
    return {
        "books": [
            {
                "id": str(book.uuid),
                "title": book.title,
                "authors": book.authors,
                "language": book.language,
                "format": book.format,
                "status": book.status,
                "uploaded_as": book.original_filename,
                "uploaded_at": book.created_at.isoformat(),
                "warnings": book.warnings,
                "chapters": [
                    {"title": chapter.title, "words": chapter.words, "included": chapter.included}
                    for chapter in book.chapters.all()
                ],
                "conversions": [
                    {
                        "id": str(conversion.uuid),
                        "status": conversion.status,
                        "voice": conversion.voice_key,
                        "speed": conversion.speed,
                        "characters": conversion.characters,
                        "credits_charged": format_credits(conversion.charge_hundredths),
                        "credits_charged_hundredths": conversion.charge_hundredths,
                        "created_at": conversion.created_at.isoformat(),
                        "changes": conversion.changes,
                    }
                    for conversion in book.conversions.all()
                ],
                "listening_position": _position(book),
                "bookmarks": [
                    {"chapter": mark.chapter, "position_ms": mark.position_ms, "note": mark.note}
                    for mark in book.bookmarks.all()
                ],
            }
            for book in books
        ]
    }


def _position(book: Any) -> dict[str, int] | None:
    try:
        progress = book.listening_progress
    except ObjectDoesNotExist:
        return None
    return {"chapter": progress.chapter, "position_ms": progress.position_ms}


def account_page_usage(*, user: User, **kwargs: Any) -> dict[str, Any]:
    """The account page's "Your library" section: the person's figures and storage against their quota."""
    return {"usage": selectors.user_statistics_get(user=user)}
