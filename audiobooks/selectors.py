"""Reads of books and their files that check who is asking."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Exists, OuterRef, QuerySet, Sum
from django.db.models.functions import Substr
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from credits.conf import max_upload_bytes
from credits.selectors import conversion_quote, storage_quota_get
from tts_engine.engines.base import EngineError
from tts_engine.registry import get_voice
from tts_engine.text import language_warning

from . import storage_keys
from .models import Book, Conversion, Part, StoredObject

# What a book's file URL may name after /books/<uuid>/files/: the deliverables
# of its newest conversion by their key inside that conversion's folder, and two aliases.
_BOOK_FILE = re.compile(r"^(book\.m4b|mp3/\d{2,4}\.mp3|captions/\d{2,4}\.vtt)$")
ORIGINAL, COVER = "original", "cover"


def books_for_user(*, user: User) -> QuerySet[Book]:
    return Book.objects.filter(owner=user)


def book_get_for_user(*, user: User, book_uuid: UUID) -> Book:
    """The user's book, or 404: another user's book is indistinguishable from none."""
    return get_object_or_404(books_for_user(user=user), uuid=book_uuid)


def book_latest_conversion(*, book: Book) -> Conversion | None:
    """The book's newest conversion: the one its pages show, and whose files its file URLs name."""
    return Conversion.objects.filter(book=book).order_by("-created_at").first()


def _latest_files_prefix(book: Book) -> str | None:
    conversion = book_latest_conversion(book=book)
    if conversion is None:
        return None
    return storage_keys.conversion_prefix(**storage_keys.deliverable_ids(conversion))


def storage_used_bytes(*, user: User) -> int:
    """Bytes the user's files take: every row they own, pending uploads at their declared size.

    Cached Parts belong to no one and count for no one.
    """
    total = StoredObject.objects.filter(owner=user).aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def book_file_get_for_user(*, user: User, book_uuid: UUID, name: str) -> tuple[Book, StoredObject]:
    """One of the user's book's files by its name in URLs, or 404.

    ``name`` is ``original``, ``cover``, or one of the newest conversion's
    ``book.m4b``, ``mp3/NN.mp3`` or ``captions/NN.vtt``. A file that is not
    (or no longer) stored is a 404 too, as is a pending upload.
    """
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    if name == ORIGINAL:
        key = book.original_key
    elif name == COVER:
        key = book.cover_key
    elif _BOOK_FILE.match(name):
        prefix = _latest_files_prefix(book)
        key = prefix + name if prefix else ""
    else:
        raise Http404("No such file.")
    stored = StoredObject.objects.filter(owner=user, book=book, key=key, expires_at__isnull=True).first()
    if not key or stored is None:
        raise Http404("No such file.")
    return book, stored


def book_mp3s_for_user(*, user: User, book_uuid: UUID) -> tuple[Book, list[StoredObject]]:
    """The user's book and its newest conversion's chapter MP3s in chapter order; 404 when it has none."""
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    prefix = _latest_files_prefix(book)
    stored = StoredObject.objects.filter(owner=user, book=book, kind=StoredObject.Kind.MP3)
    mp3s = sorted(
        stored.filter(key__startswith=prefix) if prefix else stored.none(),
        key=lambda mp3: _chapter_number(mp3.key),
    )
    if not mp3s:
        raise Http404("This book has no MP3s yet.")
    return book, mp3s


def _chapter_number(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def part_keys_in_use() -> QuerySet[StoredObject, str]:
    """Keys of cached Parts that a conversion still running needs: ``purge_expired`` keeps these.

    Every Part of every Conversion not yet finished (queued, synthesizing or
    assembling) counts, including Parts it reuses from the cache: a Part's
    ``cache_key`` is the digest in ``parts/<digest>.<ext>``. Part rows are
    recorded at submission, before any worker looks a Part up in the cache;
    a cached Part that vanishes when read is a miss and is rendered again.
    """
    digest = Substr(OuterRef("key"), len(storage_keys.PARTS_PREFIX) + 1, 64)
    needed = Part.objects.filter(conversion__status__in=Conversion.ACTIVE, cache_key=digest)
    return (
        StoredObject.objects.filter(kind=StoredObject.Kind.PART, key__startswith=storage_keys.PARTS_PREFIX)
        .filter(Exists(needed))
        .values_list("key", flat=True)
    )


def conversions_for_user(*, user: User) -> QuerySet[Conversion]:
    return Conversion.objects.filter(owner=user)


def conversion_get_for_user(*, user: User, conversion_uuid: UUID) -> Conversion:
    """The user's conversion, or 404: another user's is indistinguishable from none."""
    return get_object_or_404(
        conversions_for_user(user=user).select_related("book__owner"), uuid=conversion_uuid
    )


@dataclass(frozen=True)
class BookConversionQuote:
    """What the Convert page shows before the reader submits."""

    characters: int
    credits: int
    balance: int
    language_warning: str | None

    @property
    def affordable(self) -> bool:
        return self.credits <= self.balance

    @property
    def shortfall(self) -> int:
        return max(0, self.credits - self.balance)


def book_conversion_quote(
    *, user: User, book_uuid: UUID, chapter_indexes: Iterable[int], voice_key: str
) -> BookConversionQuote:
    """Cost and balance for converting these chapters of the user's book (404 for another's).

    ``characters`` sums the chapters' counts from ingestion; the charge at
    submission counts the text as cut into Parts, which differs by spacing only.
    An unknown voice gives no language warning here; submission refuses it.
    """
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    characters = int(
        book.chapters.filter(index__in=list(chapter_indexes)).aggregate(total=Sum("chars"))["total"] or 0
    )
    quote = conversion_quote(user=user, characters=characters)
    try:
        voice_language = get_voice(voice_key).language
    except (EngineError, LookupError, ValueError):
        warning = None
    else:
        warning = language_warning(voice_language, book.language)
    return BookConversionQuote(
        characters=characters, credits=quote.credits, balance=quote.balance, language_warning=warning
    )


def upload_limit_bytes(*, user: User) -> int:
    """The largest file this user can upload now: the plan's cap, or the room left in their quota."""
    room = storage_quota_get(user=user) - storage_used_bytes(user=user)
    return max(0, min(max_upload_bytes(), room))
