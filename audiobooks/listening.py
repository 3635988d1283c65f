"""Listening progress and bookmarks of a book, for the apps and the web player.

Reads and writes both go through the book's owner (another user's book, or a
bookmark of it, is a 404). Places are a chapter's number in the finished book
(from 1, as in ``mp3/NN.mp3``) and an offset into it in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User

from .errors import BookError, UnknownChapter
from .models import Book, Bookmark, ListeningProgress
from .selectors import book_get_for_user

# Enough for any reader; a cap keeps one book's list from growing without bound.
MAX_BOOKMARKS_PER_BOOK = 1000
MAX_NOTE_LENGTH = 500
# Positions beyond this (about 11 days into a chapter) are nonsense, and the column is 64-bit.
MAX_POSITION_MS = 1_000_000_000
MAX_CHAPTER_NUMBER = 100_000


class TooManyBookmarks(BookError):
    code = "too_many_bookmarks"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            f"This book already has {MAX_BOOKMARKS_PER_BOOK:,} bookmarks. Delete some to add new ones."
        )


def _chapter_checked(book: Book, chapter: int) -> int:
    count = book.chapters.count()
    if not 1 <= chapter <= count:
        raise UnknownChapter(
            f"This book has no chapter {chapter}; its chapters are numbered 1 to {count}."
            if count
            else "This book has no chapters yet."
        )
    return chapter


# --- Progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    book: UUID
    chapter: int
    position_ms: int
    recorded_at: datetime | None  # None: never listened to


def listening_progress_get(*, user: User, book_uuid: UUID) -> Progress:
    """The owner's place in the book; the start (chapter 1, 0 ms) when they have not listened yet."""
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    saved = ListeningProgress.objects.filter(book=book).first()
    if saved is None:
        return Progress(book.uuid, chapter=1, position_ms=0, recorded_at=None)
    return Progress(book.uuid, saved.chapter, saved.position_ms, saved.recorded_at)


def listening_progress_save(
    *, user: User, book_uuid: UUID, chapter: int, position_ms: int, recorded_at: datetime | None = None
) -> Progress:
    """Record the owner's place, unless a newer place was recorded already; returns the place kept.

    ``recorded_at`` is when the listener was there (now, when not given; a
    time in the future is taken as now, so a device whose clock runs ahead
    cannot pin the place). An older one than the saved place changes nothing:
    a phone syncing after a flight does not undo what the web player heard since.
    """
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    _chapter_checked(book, chapter)
    now = timezone.now()
    when = min(recorded_at or now, now)
    with transaction.atomic(durable=True):
        saved = ListeningProgress.objects.select_for_update().filter(book=book).first()
        if saved is None:
            saved, _ = ListeningProgress.objects.get_or_create(
                book=book, defaults={"chapter": chapter, "position_ms": position_ms, "recorded_at": when}
            )
        elif when >= saved.recorded_at:
            saved.chapter, saved.position_ms, saved.recorded_at = chapter, position_ms, when
            saved.save(update_fields=["chapter", "position_ms", "recorded_at", "updated_at"])
    return Progress(book.uuid, saved.chapter, saved.position_ms, saved.recorded_at)


# --- Bookmarks -----------------------------------------------------------------------------


def bookmarks_for_book(*, user: User, book_uuid: UUID) -> QuerySet[Bookmark]:
    """The owner's bookmarks of the book, in reading order (404 for another's book)."""
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    return Bookmark.objects.filter(book=book).order_by("chapter", "position_ms", "id")


def bookmark_get_for_user(*, user: User, book_uuid: UUID, bookmark_uuid: UUID) -> Bookmark:
    """One bookmark of the owner's book; a bookmark of another book, or another user's, is a 404."""
    return get_object_or_404(
        Bookmark.objects.select_related("book"),
        uuid=bookmark_uuid,
        book__uuid=book_uuid,
        book__owner=user,
    )


def bookmark_create(
    *, user: User, book_uuid: UUID, chapter: int, position_ms: int, note: str = ""
) -> Bookmark:
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    _chapter_checked(book, chapter)
    with transaction.atomic(durable=True):
        # The book's row lock makes the cap exact when two devices add at once.
        Book.objects.select_for_update().filter(pk=book.pk).first()
        if Bookmark.objects.filter(book=book).count() >= MAX_BOOKMARKS_PER_BOOK:
            raise TooManyBookmarks()
        return Bookmark.objects.create(
            book=book, chapter=chapter, position_ms=position_ms, note=note.strip()[:MAX_NOTE_LENGTH]
        )


def bookmark_update(
    *,
    user: User,
    book_uuid: UUID,
    bookmark_uuid: UUID,
    chapter: int | None = None,
    position_ms: int | None = None,
    note: str | None = None,
) -> Bookmark:
    """Change what is given of a bookmark's place and note; what is left out stays."""
    bookmark = bookmark_get_for_user(user=user, book_uuid=book_uuid, bookmark_uuid=bookmark_uuid)
    fields = ["updated_at"]
    if chapter is not None:
        bookmark.chapter = _chapter_checked(bookmark.book, chapter)
        fields.append("chapter")
    if position_ms is not None:
        bookmark.position_ms = position_ms
        fields.append("position_ms")
    if note is not None:
        bookmark.note = note.strip()[:MAX_NOTE_LENGTH]
        fields.append("note")
    with transaction.atomic(durable=True):
        bookmark.save(update_fields=fields)
    return bookmark


def bookmark_delete(*, user: User, book_uuid: UUID, bookmark_uuid: UUID) -> None:
    bookmark = bookmark_get_for_user(user=user, book_uuid=book_uuid, bookmark_uuid=bookmark_uuid)
    with transaction.atomic(durable=True):
        Bookmark.objects.filter(pk=bookmark.pk).delete()
