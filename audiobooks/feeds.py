"""Private podcast feeds: the owner's finished audiobooks, or one book's chapters, for podcast apps.

A podcast app cannot sign in, so a feed is reached by a long random token in
its URL. The token finds the feed (by its SHA-256), and the feed names its
owner: every read below goes through that owner, as a signed-in page goes
through ``request.user``. A new token (``feed_token_renew``) makes the old URL
a 404; ``feed_revoke`` ends the feed.

Episodes:
- the owner's feed: one episode per book, the M4B of its newest completed conversion;
- a book's feed: one episode per ready chapter of its newest conversion (its MP3),
  so a book can be heard chapter by chapter while the rest still renders.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from accounts import crypto
from accounts.models import User

from .errors import BookError
from .models import Book, Conversion, ConversionChapter, PodcastFeed, StoredObject
from .selectors import book_get_for_user, book_latest_conversion, conversion_chapters
from .storage import keys as storage_keys

# 256 bits: a feed URL cannot be guessed, only leaked (and then renewed).
TOKEN_BYTES = 32


class FeedExists(BookError):
    code = "feed_exists"
    http_status = 409


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue_token(feed: PodcastFeed) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed.token_sha256 = _digest(token)
    feed.token_encrypted = crypto.encrypt(token)
    feed.token_issued_at = timezone.now()
    return token


def feed_token(feed: PodcastFeed) -> str:
    """The feed's current token, for its URL and QR code on the owner's feeds page."""
    return crypto.decrypt(feed.token_encrypted)


# --- Writes ---------------------------------------------------------------------------------


@transaction.atomic
def feed_create(*, user: User, book_uuid: UUID | None = None) -> PodcastFeed:
    """A feed of every finished audiobook of the user, or of one of their books' chapters.

    Another user's book is a 404; a second feed of the same kind is refused
    (the existing one's URL can be renewed instead).
    """
    book = book_get_for_user(user=user, book_uuid=book_uuid) if book_uuid is not None else None
    feed = PodcastFeed(owner=user, book=book)
    _issue_token(feed)
    try:
        with transaction.atomic():
            feed.save()
    except IntegrityError:
        raise FeedExists(
            f"“{book.display_title}” already has a podcast feed."
            if book
            else "You already have a podcast feed."
        ) from None
    return feed


def _owned_feed(user: User, feed_uuid: UUID) -> PodcastFeed:
    feed = PodcastFeed.objects.select_for_update().filter(owner=user, uuid=feed_uuid).first()
    if feed is None:
        raise Http404("No such feed.")
    return feed


@transaction.atomic
def feed_token_renew(*, user: User, feed_uuid: UUID) -> PodcastFeed:
    """A new URL for the feed; the old one answers 404 from now on."""
    feed = _owned_feed(user, feed_uuid)
    _issue_token(feed)
    feed.save(update_fields=["token_sha256", "token_encrypted", "token_issued_at"])
    return feed


@transaction.atomic
def feed_revoke(*, user: User, feed_uuid: UUID) -> None:
    """End the feed: its URL and every episode link in it answer 404."""
    _owned_feed(user, feed_uuid).delete()


# --- Reads ----------------------------------------------------------------------------------


def feeds_for_user(*, user: User) -> list[PodcastFeed]:
    """The user's feeds, their own first, then their books' by title."""
    feeds = PodcastFeed.objects.filter(owner=user).select_related("book")
    return sorted(
        feeds, key=lambda feed: (feed.book_id is not None, feed.book.display_title if feed.book else "")
    )


def feed_by_token(token: str) -> PodcastFeed:
    """The feed this token opens, or 404 (a renewed or revoked token included)."""
    feed = PodcastFeed.objects.select_related("owner", "book").filter(token_sha256=_digest(token)).first()
    if feed is None:
        raise Http404("No such feed.")
    now = timezone.now()
    if feed.last_fetched_at is None or (now - feed.last_fetched_at).total_seconds() > 3600:
        # Shown on the feeds page ("last fetched"); written at most hourly, not on every poll.
        PodcastFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    return feed


@dataclass(frozen=True)
class ChapterMark:
    start_ms: int
    title: str


@dataclass(frozen=True)
class Episode:
    """One item of a feed; its files are named by ``name`` as in ``selectors.book_file_get_for_user``."""

    guid: str
    book: Book
    conversion: Conversion
    title: str
    published_at: datetime
    audio: StoredObject
    duration_ms: int
    number: int | None  # the chapter's number in a book's feed; None for a whole book's M4B
    chapters: list[ChapterMark]  # a whole book's chapter marks; empty for a chapter
    has_transcript: bool


def _stored(owner: User, keys: list[str]) -> dict[str, StoredObject]:
    rows = StoredObject.objects.filter(owner=owner, key__in=keys, expires_at__isnull=True)
    return {row.key: row for row in rows}


def owner_episodes(*, owner: User) -> list[Episode]:
    """One episode per book with a completed conversion whose M4B is stored, newest first."""
    newest = (
        Conversion.objects.filter(owner=owner, status=Conversion.Status.COMPLETED)
        .select_related("book")
        .order_by("book_id", "-finished_at")
        .distinct("book_id")
    )
    conversions = {conversion.pk: conversion for conversion in newest}
    m4b_keys = {pk: storage_keys.m4b_key(**storage_keys.deliverable_ids(c)) for pk, c in conversions.items()}
    stored = _stored(owner, list(m4b_keys.values()))
    marks: dict[int, list[ChapterMark]] = {pk: [] for pk in conversions}
    captions: dict[int, int] = dict.fromkeys(conversions, 0)
    ready = ConversionChapter.objects.filter(
        conversion_id__in=conversions, status=ConversionChapter.Status.READY
    ).select_related("chapter")
    starts = dict.fromkeys(conversions, 0)
    for selection in ready.order_by("conversion_id", "position"):
        marks[selection.conversion_id].append(
            ChapterMark(starts[selection.conversion_id], selection.chapter.title)
        )
        starts[selection.conversion_id] += selection.duration_ms or 0
        captions[selection.conversion_id] += 1
    episodes = [
        Episode(
            guid=str(conversion.uuid),
            book=conversion.book,
            conversion=conversion,
            title=conversion.book.display_title,
            published_at=conversion.finished_at or conversion.created_at,
            audio=stored[m4b_keys[pk]],
            duration_ms=conversion.duration_ms or 0,
            number=None,
            chapters=marks[pk],
            has_transcript=captions[pk] > 0,
        )
        for pk, conversion in conversions.items()
        if m4b_keys[pk] in stored
    ]
    return sorted(episodes, key=lambda episode: episode.published_at, reverse=True)


def book_episodes(*, book: Book) -> list[Episode]:
    """One episode per ready chapter of the book's newest conversion whose MP3 is stored, in book order."""
    conversion = book_latest_conversion(book=book)
    if conversion is None:
        return []
    ids = storage_keys.deliverable_ids(conversion)
    ready = [
        s for s in conversion_chapters(conversion=conversion) if s.status == ConversionChapter.Status.READY
    ]
    mp3_keys = {s.number: storage_keys.mp3_key(**ids, number=s.number) for s in ready}
    vtt_keys = {s.number: storage_keys.captions_key(**ids, number=s.number) for s in ready}
    stored = _stored(book.owner, [*mp3_keys.values(), *vtt_keys.values()])
    return [
        Episode(
            guid=f"{conversion.uuid}/{selection.number}",
            book=book,
            conversion=conversion,
            title=selection.chapter.title or f"Chapter {selection.number}",
            published_at=selection.finished_at or conversion.created_at,
            audio=stored[mp3_keys[selection.number]],
            duration_ms=selection.duration_ms or 0,
            number=selection.number,
            chapters=[],
            has_transcript=vtt_keys[selection.number] in stored,
        )
        for selection in ready
        if mp3_keys[selection.number] in stored
    ]


def feed_episodes(feed: PodcastFeed) -> list[Episode]:
    return book_episodes(book=feed.book) if feed.book is not None else owner_episodes(owner=feed.owner)


def feed_conversion(feed: PodcastFeed, conversion_uuid: UUID) -> Conversion:
    """A conversion the feed may serve files of: the owner's, and of the feed's book if it has one; or 404."""
    conversions = Conversion.objects.select_related("book").filter(owner=feed.owner, uuid=conversion_uuid)
    if feed.book_id is not None:
        conversions = conversions.filter(book_id=feed.book_id)
    conversion = conversions.first()
    if conversion is None:
        raise Http404("No such episode.")
    return conversion


def feed_file(
    feed: PodcastFeed, conversion: Conversion, *, kind: str, number: int | None = None
) -> StoredObject:
    """One stored file of a conversion the feed serves (``m4b``, ``mp3`` or ``vtt``), or 404."""
    ids = storage_keys.deliverable_ids(conversion)
    if kind == "m4b" and feed.book_id is None:
        key = storage_keys.m4b_key(**ids)
    elif kind == "mp3" and number is not None:
        key = storage_keys.mp3_key(**ids, number=number)
    elif kind == "vtt" and number is not None:
        key = storage_keys.captions_key(**ids, number=number)
    else:
        raise Http404("No such file.")
    stored = _stored(feed.owner, [key]).get(key)
    if stored is None:
        raise Http404("No such file.")
    return stored


def conversion_captions(feed: PodcastFeed, conversion: Conversion) -> list[tuple[int, StoredObject]]:
    """A whole book's chapter captions with each chapter's start in the M4B, for its joined transcript."""
    ids = storage_keys.deliverable_ids(conversion)
    ready = [
        s for s in conversion_chapters(conversion=conversion) if s.status == ConversionChapter.Status.READY
    ]
    stored = _stored(feed.owner, [storage_keys.captions_key(**ids, number=s.number) for s in ready])
    starts, start = [], 0
    for selection in ready:
        row = stored.get(storage_keys.captions_key(**ids, number=selection.number))
        if row is not None:
            starts.append((start, row))
        start += selection.duration_ms or 0
    return starts


def feed_cover(feed: PodcastFeed, book_uuid: UUID) -> tuple[Book, StoredObject]:
    """A book's cover, for a feed that shows that book; or 404."""
    books = Book.objects.filter(owner=feed.owner, uuid=book_uuid)
    if feed.book_id is not None:
        books = books.filter(pk=feed.book_id)
    book = books.first()
    row = _stored(feed.owner, [book.cover_key]).get(book.cover_key) if book and book.cover_key else None
    if book is None or row is None:
        raise Http404("No cover.")
    return book, row
