"""Reads of a reader's lexicon, each scoped to its owner: another reader's entry is a 404."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from audiobooks.models import Book, Chapter, LexiconEntry
from audiobooks.selectors import book_get_for_user, book_latest_conversion
from tts_engine import lexicon as speech_lexicon
from tts_engine.registry import DEFAULT_VOICE

from .checks import EntryInput
from .problem_words import problem_words


def lexicon_entries(
    *, user: User, book_uuid: UUID | None = None, everything: bool = False
) -> QuerySet[LexiconEntry]:
    """The reader's user-wide entries, or one book's own (``book_uuid``), or all of them (``everything``)."""
    entries = LexiconEntry.objects.filter(owner=user).select_related("book")
    if everything:
        return entries.order_by("text", "id")
    if book_uuid is None:
        return entries.filter(book__isnull=True).order_by("text", "id")
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    return entries.filter(book=book).order_by("text", "id")


def lexicon_entry_get_for_user(*, user: User, entry_uuid: UUID) -> LexiconEntry:
    return get_object_or_404(LexiconEntry.objects.select_related("book"), owner=user, uuid=entry_uuid)


def lexicon_count(*, user: User) -> int:
    return LexiconEntry.objects.filter(owner=user).count()


def lexicon_for_book(*, book: Book) -> list[speech_lexicon.Entry]:
    """The owner's entries that apply to ``book``: its own, and the user-wide ones it does not override."""
    rows = LexiconEntry.objects.filter(
        Q(book__isnull=True) | Q(book=book), owner_id=book.owner_id
    ).values_list("book_id", "text", "respelling", "phonemes", "case_sensitive", "whole_word")
    chosen: dict[tuple[str, bool], tuple[int | None, speech_lexicon.Entry]] = {}
    for book_id, text, respelling, phonemes, case_sensitive, whole_word in rows:
        key = (text if case_sensitive else text.casefold(), case_sensitive)
        if key in chosen and chosen[key][0] is not None:
            continue  # the book's own entry wins
        chosen[key] = (
            book_id,
            speech_lexicon.Entry(
                text=text,
                respelling=respelling,
                phonemes=phonemes,
                case_sensitive=case_sensitive,
                whole_word=whole_word,
            ),
        )
    return [entry for _, entry in chosen.values()]


def lexicon_export(*, user: User, book_uuid: UUID | None) -> list[EntryInput]:
    """The entries a file of the user-wide lexicon, or of one book's own, holds."""
    return [
        EntryInput(
            text=row.text,
            respelling=row.respelling,
            phonemes=row.phonemes,
            case_sensitive=row.case_sensitive,
            whole_word=row.whole_word,
            note=row.note,
        )
        for row in lexicon_entries(user=user, book_uuid=book_uuid)
    ]


def lexicon_fixes_for_book(*, book: Book) -> dict[str, LexiconEntry]:
    """The entry each word is said with in ``book``, by case-folded text: its own, else the reader's."""
    mine = LexiconEntry.objects.filter(Q(book__isnull=True) | Q(book=book), owner_id=book.owner_id)
    entries = sorted(mine, key=lambda entry: entry.book_id is not None)  # the book's own last, so they win
    return {entry.text.casefold(): entry for entry in entries}


def book_voice_key(*, book: Book) -> str:
    """The voice a word on the book's lexicon page is heard in: its last conversion's, else the default."""
    latest = book_latest_conversion(book=book)
    return latest.voice_key if latest is not None else DEFAULT_VOICE


def book_problem_words(*, book: Book, limit: int = 200) -> list[tuple[str, int]]:
    texts = Chapter.objects.filter(book=book).values_list("text", flat=True).iterator(chunk_size=50)
    return problem_words(texts, limit=limit)
