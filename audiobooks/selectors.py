"""Reads of books, conversions and their files that check who is asking.

Every query the web pages and the API need is built here: views and
serializers call these and build none of their own (a test greps them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Concat, Lower, NullIf, Substr
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from credits.conf import max_upload_bytes
from credits.selectors import ConversionQuote, conversion_quote, storage_quota_get
from tts_engine.engines.base import EngineError
from tts_engine.registry import DEFAULT_VOICE, get_voice
from tts_engine.speaking_rate import audio_seconds_for
from tts_engine.text import language_warning

from . import prices
from .models import Book, Chapter, Conversion, ConversionChapter, Part, StoredObject
from .storage import keys as storage_keys

# What a book's file URL may name after /books/<uuid>/files/: the deliverables
# of its newest conversion by their key inside that conversion's folder, and two aliases.
_BOOK_FILE = re.compile(r"^(book\.m4b|mp3/\d{2,4}\.mp3|captions/\d{2,4}\.vtt)$")
ORIGINAL, COVER = "original", "cover"


# What a list of a book's chapters shows (the picker, the API): everything but the text,
# which for a long book is megabytes. The book is named, or the related manager would
# read each row's deferred book_id back with a query of its own.
CHAPTER_LISTING_FIELDS = (
    "book", "index", "title", "words", "chars", "included", "exclusion_reason", "group", "section",
    "group_title",
)  # fmt: skip


def books_for_user(*, user: User) -> QuerySet[Book]:
    return Book.objects.filter(owner=user)


def books_list(
    *, user: User, status: str | None = None, q: str = "", ordering: str = "-created_at"
) -> QuerySet[Book]:
    """The user's books with ``chapters_count``: of one status, matching ``q``, in ``ordering``.

    ``q`` matches part of the title, the file's name or an author. ``ordering``
    is ``created_at``, ``title`` or ``author`` (the first), ``-`` first for
    descending; a book with no title sorts by its file's name, as ``display_title`` shows it.
    """
    books = books_for_user(user=user).annotate(chapters_count=Count("chapters"))
    if status:
        books = books.filter(status=status)
    if text := q.strip():
        books = books.filter(
            Q(title__icontains=text) | Q(original_filename__icontains=text) | Q(authors__icontains=text)
        )
    title = Lower(Coalesce(NullIf("title", Value("")), "original_filename"))
    if ordering.lstrip("-") == "title":
        return books.order_by(title.desc() if ordering.startswith("-") else title.asc(), "-id")
    if ordering.lstrip("-") == "author":
        # By the first author; books without one come last either way, then by title.
        author = Lower(KT("authors__0"))
        first = author.desc(nulls_last=True) if ordering.startswith("-") else author.asc(nulls_last=True)
        return books.order_by(first, title.asc(), "-id")
    return books.order_by(ordering, "-id")


def book_detail_get_for_user(*, user: User, book_uuid: UUID) -> Book:
    """The user's book with ``chapters_count`` and its chapters loaded (not their text), or 404."""
    chapters = Chapter.objects.order_by("index").only(*CHAPTER_LISTING_FIELDS)
    return get_object_or_404(
        books_list(user=user).prefetch_related(Prefetch("chapters", queryset=chapters)), uuid=book_uuid
    )


@dataclass(frozen=True)
class LibraryRow:
    """One book as the library lists it: its newest conversion, and how far its reader has listened."""

    book: Book
    conversion: Conversion | None
    listened: float | None  # share of the newest conversion heard, 0 to 1; None before any listening
    listened_at: datetime | None


LIBRARY_SORTS = {"recent": "-created_at", "title": "title", "author": "author"}


def library_for_user(*, user: User, q: str = "", sort: str = "recent") -> list[LibraryRow]:
    """The library: the user's books matching ``q``, in ``sort`` order (``LIBRARY_SORTS``), each with
    its newest conversion and listening progress (three queries, whatever the number of books)."""
    chapters = ConversionChapter.objects.order_by("position").only("conversion", "position", "duration_ms")
    newest = Conversion.objects.order_by("-created_at").prefetch_related(
        Prefetch("selections", queryset=chapters, to_attr="in_order")
    )
    books = (
        books_list(user=user, q=q, ordering=LIBRARY_SORTS.get(sort, "-created_at"))
        .select_related("listening_progress")
        .prefetch_related(Prefetch("conversions", queryset=newest, to_attr="newest_first"))
    )
    rows = []
    for book in books:
        conversion = book.newest_first[0] if book.newest_first else None
        progress = getattr(book, "listening_progress", None)
        listened = _listened(conversion, progress.chapter, progress.position_ms) if progress else None
        rows.append(LibraryRow(book, conversion, listened, progress.recorded_at if progress else None))
    return rows


def _listened(conversion: Conversion | None, chapter: int, position_ms: int) -> float | None:
    """The share of the conversion's audio before ``position_ms`` into chapter number ``chapter``."""
    if conversion is None:
        return None
    durations = [selection.duration_ms or 0 for selection in getattr(conversion, "in_order", [])]
    total = sum(durations)
    if not total:
        return None
    before = sum(durations[: max(0, chapter - 1)])
    return max(0.0, min(1.0, (before + position_ms) / total))


def book_chapters(*, book: Book) -> list[Chapter]:
    """The book's chapters in reading order, with what the chapter picker shows (not their text)."""
    return list(book.chapters.order_by("index").only(*CHAPTER_LISTING_FIELDS))


def book_get_for_user(*, user: User, book_uuid: UUID) -> Book:
    """The user's book, or 404: another user's book is indistinguishable from none."""
    return get_object_or_404(books_for_user(user=user), uuid=book_uuid)


def book_latest_conversion(*, book: Book) -> Conversion | None:
    """The book's newest conversion: the one its pages show, and whose files its file URLs name."""
    return Conversion.objects.filter(book=book).order_by("-created_at").first()


@dataclass(frozen=True)
class BookPage:
    """What the book page and its status poll show: the newest conversion, its chapters, which files exist."""

    conversion: Conversion | None
    chapters: list[ConversionChapter]  # the newest conversion's, in their order in the book
    m4b_ready: bool  # the newest conversion's M4B is stored
    has_mp3: bool  # some conversion's chapter MP3 is stored
    has_original: bool


def book_page_get(*, book: Book) -> BookPage:
    """``BookPage`` of a book the caller already fetched for its owner (``book_get_for_user``)."""
    conversion = book_latest_conversion(book=book)
    chapters: list[ConversionChapter] = []
    files = Q(kind=StoredObject.Kind.MP3)
    m4b_key = original_key = None
    if book.original_key:
        original_key = book.original_key
        files |= Q(key=original_key)
    if conversion is not None:
        chapters = conversion_chapters(conversion=conversion)
        m4b_key = storage_keys.m4b_key(**storage_keys.deliverable_ids(conversion))
        files |= Q(key=m4b_key)
    stored = set(
        StoredObject.objects.filter(files, owner_id=book.owner_id, book=book).values_list("kind", "key")
    )
    return BookPage(
        conversion=conversion,
        chapters=chapters,
        m4b_ready=any(key == m4b_key for _, key in stored),
        has_mp3=any(kind == StoredObject.Kind.MP3 for kind, _ in stored),
        has_original=any(key == original_key for _, key in stored),
    )


def conversion_chapters(*, conversion: Conversion) -> list[ConversionChapter]:
    """The conversion's chapters with their book chapters, in their order in the finished book."""
    return list(conversion.selections.select_related("chapter").order_by("position"))


def _latest_files_prefix(book: Book) -> str | None:
    conversion = book_latest_conversion(book=book)
    if conversion is None:
        return None
    return storage_keys.conversion_prefix(**storage_keys.deliverable_ids(conversion))


def storage_used_bytes(*, user: User) -> int:
    """Bytes the user's files take: every row they own, pending uploads at their declared size,
    and the cached Parts kept for their books' current audiobooks (``part_keys_in_use``).

    Other cached Parts belong to no one and count for no one.
    """
    total = StoredObject.objects.filter(owner=user).aggregate(total=Sum("size"))["total"]
    return int(total or 0) + kept_parts_bytes(user=user)


def current_revisions() -> QuerySet[Conversion]:
    """Each book's current audiobook: its newest completed conversion, whose Parts are kept."""
    newest = (
        Conversion.objects.filter(book_id=OuterRef("book_id"), status=Conversion.Status.COMPLETED)
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    return Conversion.objects.filter(status=Conversion.Status.COMPLETED, pk=Subquery(newest))


def kept_parts_bytes(*, user: User) -> int:
    """Bytes of the cached Parts of the user's books' current audiobooks, each stored Part once; one query."""
    # The render cache stores Parts as WAV (pipeline.sources.PART_EXTENSION: the pipeline imports us).
    keys = (
        Part.objects.filter(conversion__in=current_revisions().filter(owner=user))
        .annotate(stored_key=Concat(Value(storage_keys.PARTS_PREFIX), "cache_key", Value(".wav")))
        .values("stored_key")
    )
    total = StoredObject.objects.filter(kind=StoredObject.Kind.PART, key__in=keys).aggregate(
        total=Sum("size")
    )
    return int(total["total"] or 0)


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


def book_mp3s_bytes(*, book: Book) -> int:
    """The bytes of the book's newest conversion's stored chapter MP3s (the caller checked access)."""
    prefix = _latest_files_prefix(book)
    if prefix is None:
        return 0
    rows = StoredObject.objects.filter(owner_id=book.owner_id, book=book, kind=StoredObject.Kind.MP3)
    return int(rows.filter(key__startswith=prefix).aggregate(total=Sum("size"))["total"] or 0)


def conversion_mp3s_for_owner(
    *, owner_uuid: UUID, conversion_uuid: UUID
) -> tuple[Conversion, list[StoredObject]]:
    """A conversion of this owner and its chapter MP3s in chapter order; 404 when gone or without one.

    For a signed link (``storage.links.archive_link``): the link names the
    owner, and a conversion no longer theirs (or deleted) is not found.
    """
    conversion = get_object_or_404(
        Conversion.objects.select_related("book", "book__owner"), uuid=conversion_uuid, owner__uuid=owner_uuid
    )
    mp3s = conversion_mp3s(conversion=conversion)
    if not mp3s:
        raise Http404("This conversion has no MP3s yet.")
    return conversion, mp3s


def conversion_mp3s(*, conversion: Conversion) -> list[StoredObject]:
    """The conversion's stored chapter MP3s, in chapter order (the caller checked access)."""
    prefix = storage_keys.conversion_prefix(**storage_keys.deliverable_ids(conversion))
    stored = StoredObject.objects.filter(
        owner_id=conversion.owner_id, kind=StoredObject.Kind.MP3, key__startswith=prefix
    )
    return sorted(stored, key=lambda mp3: _chapter_number(mp3.key))


def _chapter_number(key: str) -> int:
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def part_keys_in_use() -> QuerySet[StoredObject, str]:
    """Keys of cached Parts that a conversion still running, or a book's current audiobook, needs:
    ``purge_expired`` keeps these.

    Every Part of every Conversion not yet finished (queued, synthesizing or
    assembling) counts, including Parts it reuses from the cache: a Part's
    ``cache_key`` is the digest in ``parts/<digest>.<ext>``. Part rows are
    recorded at submission, before any worker looks a Part up in the cache;
    a cached Part that vanishes when read is a miss and is rendered again.
    So do the Parts of each book's newest completed conversion
    (``current_revisions``), while the book exists, so a revision made days
    later (``pipeline.revisions``) reuses them; they count in the owner's
    storage (``storage_used_bytes``). Once a newer revision completes, the
    older one's Parts go with the render cache's age like any other.
    """
    digest = Substr(OuterRef("key"), len(storage_keys.PARTS_PREFIX) + 1, 64)
    needed = Part.objects.filter(
        Q(conversion__status__in=Conversion.ACTIVE) | Q(conversion__in=current_revisions()), cache_key=digest
    )
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


def conversions_list(
    *, user: User, book_uuid: UUID | None = None, status: str | None = None
) -> QuerySet[Conversion]:
    """The user's conversions with their books, newest first; of one book and one status when given."""
    conversions = conversions_for_user(user=user).select_related("book", "revision_of")
    if book_uuid is not None:
        conversions = conversions.filter(book__uuid=book_uuid)
    if status:
        conversions = conversions.filter(status=status)
    return conversions.order_by("-created_at", "-id")


def conversion_detail_get(*, conversion: Conversion) -> Conversion:
    """The conversion read again with its book and chapters, as the API shows it (access already checked)."""
    return (
        Conversion.objects.select_related("book", "revision_of")
        .prefetch_related("selections__chapter")
        .get(pk=conversion.pk)
    )


def conversion_books_for_user(
    *, user: User, conversion_uuids: Iterable[UUID]
) -> dict[UUID, tuple[UUID, str]]:
    """For the credits page: each of these conversions' book as ``(uuid, title)``; others' are left out."""
    rows = (
        conversions_for_user(user=user)
        .filter(uuid__in=list(conversion_uuids))
        .values_list("uuid", "book__uuid", "book__title", "book__original_filename")
    )
    return {
        conversion_uuid: (book_uuid, title or filename)
        for conversion_uuid, book_uuid, title, filename in rows
    }


# --- The conversion a task works on, for its log lines (``ebookvoice.logs``) -------------


def conversion_uuid_of_part(part_id: int) -> str | None:
    value = Part.objects.filter(pk=part_id).values_list("conversion__uuid", flat=True).first()
    return str(value) if value else None


def conversion_uuid_of_conversion_chapter(conversion_chapter_id: int) -> str | None:
    rows = ConversionChapter.objects.filter(pk=conversion_chapter_id)
    value = rows.values_list("conversion__uuid", flat=True).first()
    return str(value) if value else None


def conversion_uuid_of(conversion_id: int) -> str | None:
    value = Conversion.objects.filter(pk=conversion_id).values_list("uuid", flat=True).first()
    return str(value) if value else None


def upload_finished(*, user: User, upload_id: UUID) -> bool:
    """Whether the user's direct upload already made its book (a finish sent again)."""
    return StoredObject.objects.filter(owner=user, uuid=upload_id, book__isnull=False).exists()


@dataclass(frozen=True)
class BookConversionQuote(ConversionQuote):
    """What the Convert page shows before the reader submits: the quote, the voice's language, and
    how much audio the price and the balance are in that voice at that speed."""

    language_warning: str | None = None
    voice_key: str = DEFAULT_VOICE
    speed: float = 1.0

    @property
    def audio_seconds(self) -> int:
        """About how long the selection will play."""
        return audio_seconds_for(self.characters, voice_key=self.voice_key, speed=self.speed)

    @property
    def cost(self) -> prices.Amount:
        return prices.amount(self.cost_hundredths, voice_key=self.voice_key, speed=self.speed)

    @property
    def balance(self) -> prices.Amount:
        return prices.amount(self.balance_hundredths, voice_key=self.voice_key, speed=self.speed)

    @property
    def shortfall(self) -> prices.Amount:
        return prices.amount(self.shortfall_hundredths, voice_key=self.voice_key, speed=self.speed)


def book_conversion_quote(
    *,
    user: User,
    book_uuid: UUID,
    chapter_indexes: Iterable[int],
    voice_key: str,
    speed: float = 1.0,
    balance_hundredths: int | None = None,
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
    quote = conversion_quote(user=user, characters=characters, balance_hundredths=balance_hundredths)
    try:
        voice_language = get_voice(voice_key).language
    except (EngineError, LookupError, ValueError):
        warning = None
    else:
        warning = language_warning(voice_language, book.language)
    return BookConversionQuote(
        characters=characters,
        cost_hundredths=quote.cost_hundredths,
        balance_hundredths=quote.balance_hundredths,
        language_warning=warning,
        voice_key=voice_key,
        speed=speed if speed > 0 else 1.0,
    )


def upload_limit_bytes(*, user: User) -> int:
    """The largest file this user can upload now: the plan's cap, or the room left in their quota."""
    room = storage_quota_get(user=user) - storage_used_bytes(user=user)
    return max(0, min(max_upload_bytes(), room))


def upload_awaiting_put(*, key: str) -> bool:
    """Whether ``key`` is a direct upload started, not finished and not expired.

    Only then may its upload link PUT.
    """
    return StoredObject.objects.filter(
        key=key, kind=StoredObject.Kind.ORIGINAL, book__isnull=True, expires_at__gt=timezone.now()
    ).exists()


@dataclass(frozen=True)
class StorageUse:
    """The bytes a person's files take against their plan's quota."""

    used_bytes: int
    quota_bytes: int

    @property
    def free_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used_bytes)

    @property
    def used_percent(self) -> float:
        return round(100 * self.used_bytes / self.quota_bytes, 1) if self.quota_bytes else 100.0


def storage_use_get(*, user: User) -> StorageUse:
    return StorageUse(used_bytes=storage_used_bytes(user=user), quota_bytes=storage_quota_get(user=user))


@dataclass(frozen=True)
class UserStatistics:
    books: int
    conversions: dict[str, int]  # every status, 0 where there is none
    audio_ms: int  # rendered Parts, in every conversion (also one later cancelled)
    storage: StorageUse

    @property
    def hours_rendered(self) -> float:
        return round(self.audio_ms / 3_600_000, 2)

    @property
    def success_rate(self) -> float | None:
        """Of the conversions that ended on their own (completed or failed), the share completed.

        A cancelled conversion was the person's choice, not a failure; with
        none ended yet there is no rate (None).
        """
        completed = self.conversions[Conversion.Status.COMPLETED]
        ended = completed + self.conversions[Conversion.Status.FAILED]
        return round(completed / ended, 3) if ended else None


def user_statistics_get(*, user: User) -> UserStatistics:
    """A person's own figures, in a fixed number of queries however much they have."""
    by_status = dict(
        Conversion.objects.filter(owner=user)
        .order_by()
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    audio_ms = Part.objects.filter(conversion__owner=user, status=Part.Status.DONE).aggregate(
        total=Sum("duration_ms")
    )["total"]
    return UserStatistics(
        books=Book.objects.filter(owner=user).count(),
        conversions={status: by_status.get(status, 0) for status in Conversion.Status.values},
        audio_ms=int(audio_ms or 0),
        storage=storage_use_get(user=user),
    )


@dataclass(frozen=True)
class RevisionHistory:
    """A book's audiobook and its history, for the "Edit and history" page.

    ``current`` is the newest conversion when it has finished (the one an edit
    revises), ``chapters`` its chapters in order with their edited text and
    speed, and ``revisions`` every conversion of the book, newest first.
    """

    current: Conversion | None
    running: bool
    chapters: list[ConversionChapter]
    revisions: list[Conversion]


def book_revisions_recent(*, book: Book, limit: int = 5) -> list[Conversion]:
    """The book's newest conversions (its revisions), newest first, for the book page's history; one query."""
    return list(
        Conversion.objects.filter(book=book)
        .only("uuid", "created_at", "status", "changes", "revision_of_id", "charge_hundredths")
        .order_by("-created_at", "-id")[:limit]
    )


def revision_history(*, book: Book) -> RevisionHistory:
    """Three queries: the conversions, the current one's chapters (with the book's chapter text)."""
    revisions = list(Conversion.objects.filter(book=book).order_by("-created_at", "-id"))
    latest = revisions[0] if revisions else None
    current = latest if latest is not None and latest.status in Conversion.FINISHED else None
    chapters = (
        list(current.selections.select_related("chapter").order_by("position")) if current is not None else []
    )
    return RevisionHistory(
        current=current,
        running=latest is not None and current is None,
        chapters=chapters,
        revisions=revisions,
    )
