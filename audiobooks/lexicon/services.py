"""Writes to a reader's lexicon: one entry at a time, or a whole file at once, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction

from accounts.models import User
from audiobooks import errors
from audiobooks.models import Book, LexiconEntry
from audiobooks.selectors import book_get_for_user

from .checks import EntryInput, entry_checked
from .selectors import lexicon_entry_get_for_user

MAX_ENTRIES_PER_USER = 5_000
"""Across the reader's own and their books' entries; an import over it is refused whole."""


def _book(user: User, book_uuid: UUID | None) -> Book | None:
    return None if book_uuid is None else book_get_for_user(user=user, book_uuid=book_uuid)


def _same_word(user: User, book: Book | None, entry: EntryInput) -> LexiconEntry | None:
    """The entry already saying this word: "queequeg" and "Queequeg" are one word unless case-sensitive."""
    rows = LexiconEntry.objects.filter(owner=user, book=book, case_sensitive=entry.case_sensitive)
    rows = rows.filter(text=entry.text) if entry.case_sensitive else rows.filter(text__iexact=entry.text)
    return rows.first()


def _fields(entry: EntryInput) -> dict[str, object]:
    return {
        "text": entry.text,
        "respelling": entry.respelling,
        "phonemes": entry.phonemes,
        "case_sensitive": entry.case_sensitive,
        "whole_word": entry.whole_word,
        "note": entry.note,
    }


def _room_for(user: User, more: int) -> None:
    count = LexiconEntry.objects.select_for_update().filter(owner=user).count()
    if count + more > MAX_ENTRIES_PER_USER:
        raise errors.LexiconFull(
            f"A lexicon holds at most {MAX_ENTRIES_PER_USER:,} entries; yours has {count:,}, "
            f"and this would add {more:,}."
        )


def lexicon_entry_create(*, user: User, book_uuid: UUID | None, entry: EntryInput) -> LexiconEntry:
    """Add an entry for all the reader's books, or for one (``book_uuid``)."""
    book = _book(user, book_uuid)
    entry = entry_checked(entry)
    with transaction.atomic(durable=True):
        User.objects.select_for_update().filter(pk=user.pk).first()  # one writer per reader's lexicon
        if _same_word(user, book, entry) is not None:
            raise errors.LexiconEntryExists(f"There is already an entry for “{entry.text}”; change that one.")
        _room_for(user, 1)
        return LexiconEntry.objects.create(owner=user, book=book, **_fields(entry))


def lexicon_entry_set(*, user: User, book_uuid: UUID | None, entry: EntryInput) -> LexiconEntry:
    """How to say a word, for all the reader's books or one: the entry for it made, or replaced."""
    book = _book(user, book_uuid)
    entry = entry_checked(entry)
    with transaction.atomic(durable=True):
        User.objects.select_for_update().filter(pk=user.pk).first()
        row = _same_word(user, book, entry)
        if row is None:
            _room_for(user, 1)
            return LexiconEntry.objects.create(owner=user, book=book, **_fields(entry))
        for name, value in _fields(entry).items():
            setattr(row, name, value)
        row.save(update_fields=[*_fields(entry), "updated_at"])
        return row


def lexicon_entry_update(
    *,
    user: User,
    entry_uuid: UUID,
    text: str | None = None,
    respelling: str | None = None,
    phonemes: str | None = None,
    case_sensitive: bool | None = None,
    whole_word: bool | None = None,
    note: str | None = None,
) -> LexiconEntry:
    """Change the fields given (its book stays); the entry is checked whole, as on creation."""
    row = lexicon_entry_get_for_user(user=user, entry_uuid=entry_uuid)
    given = {
        "text": text,
        "respelling": respelling,
        "phonemes": phonemes,
        "case_sensitive": case_sensitive,
        "whole_word": whole_word,
        "note": note,
    }
    merged: dict[str, Any] = {
        name: getattr(row, name) if value is None else value for name, value in given.items()
    }
    entry = entry_checked(EntryInput(**merged))
    try:
        with transaction.atomic(durable=True):
            User.objects.select_for_update().filter(pk=user.pk).first()
            same = _same_word(user, row.book, entry)
            if same is not None and same.pk != row.pk:
                raise errors.LexiconEntryExists(f"There is already an entry for “{entry.text}”.")
            for name, value in _fields(entry).items():
                setattr(row, name, value)
            row.save(update_fields=[*_fields(entry), "updated_at"])
    except IntegrityError as exc:
        raise errors.LexiconEntryExists(f"There is already an entry for “{entry.text}”.") from exc
    return row


def lexicon_entry_delete(*, user: User, entry_uuid: UUID) -> None:
    row = lexicon_entry_get_for_user(user=user, entry_uuid=entry_uuid)
    with transaction.atomic(durable=True):
        row.delete()


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def lexicon_import(*, user: User, book_uuid: UUID | None, entries: Sequence[EntryInput]) -> ImportResult:
    """Add or update every entry of a file; the first bad entry refuses the whole file, naming it.

    An entry for a word already in the lexicon replaces it, so importing a
    file twice changes nothing the second time.
    """
    book = _book(user, book_uuid)
    if len(entries) > MAX_ENTRIES_PER_USER:
        raise errors.LexiconFull(
            f"A lexicon holds at most {MAX_ENTRIES_PER_USER:,} entries; this file has {len(entries):,}."
        )
    checked: dict[tuple[str, bool], EntryInput] = {}
    for number, entry in enumerate(entries, start=1):
        try:
            cleaned = entry_checked(entry)
        except errors.LexiconRefused as exc:
            raise type(exc)(f"Entry {number}: {exc.message}") from exc
        key = (cleaned.text if cleaned.case_sensitive else cleaned.text.casefold(), cleaned.case_sensitive)
        checked[key] = cleaned  # a word twice in one file: the later line wins
    created = updated = 0
    with transaction.atomic(durable=True):
        User.objects.select_for_update().filter(pk=user.pk).first()
        existing = {
            (row.text if row.case_sensitive else row.text.casefold(), row.case_sensitive): row
            for row in LexiconEntry.objects.filter(owner=user, book=book)
        }
        new = [entry for key, entry in checked.items() if key not in existing]
        _room_for(user, len(new))
        for key, entry in checked.items():
            row = existing.get(key)
            if row is None:
                continue
            for name, value in _fields(entry).items():
                setattr(row, name, value)
            row.save(update_fields=[*_fields(entry), "updated_at"])
            updated += 1
        LexiconEntry.objects.bulk_create(
            LexiconEntry(owner=user, book=book, **_fields(entry)) for entry in new
        )
        created = len(new)
    return ImportResult(created=created, updated=updated)
