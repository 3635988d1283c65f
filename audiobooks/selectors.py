"""Reads of books and their files that check who is asking."""

from __future__ import annotations

import re
from uuid import UUID

from django.db.models import QuerySet, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from credits.conf import max_upload_bytes
from credits.selectors import storage_quota_get

from . import storage_keys
from .models import Book, StoredObject

# What a book's file URL may name after /books/<uuid>/files/: the deliverables
# by their key inside the book's folder, and two aliases.
_BOOK_FILE = re.compile(r"^(book\.m4b|mp3/\d{2,4}\.mp3|captions/\d{2,4}\.vtt)$")
ORIGINAL, COVER = "original", "cover"


def books_for_user(*, user: User) -> QuerySet[Book]:
    return Book.objects.filter(owner=user)


def book_get_for_user(*, user: User, book_uuid: UUID) -> Book:
    """The user's book, or 404: another user's book is indistinguishable from none."""
    return get_object_or_404(books_for_user(user=user), uuid=book_uuid)


def storage_used_bytes(*, user: User) -> int:
    """Bytes the user's files take: every row they own, pending uploads at their declared size.

    Cached Parts belong to no one and count for no one.
    """
    total = StoredObject.objects.filter(owner=user).aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def book_file_get_for_user(*, user: User, book_uuid: UUID, name: str) -> tuple[Book, StoredObject]:
    """One of the user's book's files by its name in URLs, or 404.

    ``name`` is ``original``, ``cover``, ``book.m4b``, ``mp3/NN.mp3`` or
    ``captions/NN.vtt``. A file that is not (or no longer) stored is a 404
    too, as is a pending upload.
    """
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    if name == ORIGINAL:
        key = book.original_key
    elif name == COVER:
        key = book.cover_key
    elif _BOOK_FILE.match(name):
        key = storage_keys.book_prefix(user_uuid=user.uuid, book_uuid=book.uuid) + name
    else:
        raise Http404("No such file.")
    stored = StoredObject.objects.filter(owner=user, book=book, key=key, expires_at__isnull=True).first()
    if not key or stored is None:
        raise Http404("No such file.")
    return book, stored


def book_mp3s_for_user(*, user: User, book_uuid: UUID) -> tuple[Book, list[StoredObject]]:
    """The user's book and its chapter MP3s in chapter order; 404 when it has none."""
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    mp3s = sorted(
        StoredObject.objects.filter(owner=user, book=book, kind=StoredObject.Kind.MP3),
        key=lambda stored: _chapter_number(stored.key),
    )
    if not mp3s:
        raise Http404("This book has no MP3s yet.")
    return book, mp3s


def _chapter_number(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def part_keys_in_use() -> QuerySet[StoredObject, str]:
    """Keys of cached Parts that a conversion still running needs: ``purge_expired`` keeps these.

    THE PIPELINE FILLS THIS IN. Until Conversion and Part exist no conversion
    runs, so no Part is in use. Once they exist this must return the cache
    keys of every Part of every Conversion not yet finished (queued,
    synthesizing or assembling), including Parts a conversion reuses from the
    cache, for example::

        return StoredObject.objects.filter(
            key__in=Part.objects.filter(conversion__status__in=Conversion.ACTIVE).values("cache_key")
        ).values_list("key", flat=True)

    The pipeline must record its Part rows (with their cache keys) before it
    looks a Part up in the cache, and treat a cached Part that has vanished
    when read as a miss and render it again: a purge that started just before
    the conversion may still delete it.
    """
    return StoredObject.objects.none().values_list("key", flat=True)


def upload_limit_bytes(*, user: User) -> int:
    """The largest file this user can upload now: the plan's cap, or the room left in their quota."""
    room = storage_quota_get(user=user) - storage_used_bytes(user=user)
    return max(0, min(max_upload_bytes(), room))
