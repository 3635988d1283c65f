"""A book's title, authors and cover as its reader edits them, before or after converting.

Every edit is checked here (an empty title, a picture that is no picture, a
cover over 30 MB are each refused with their own error), written in one
transaction, and followed by ``audiobooks.retag_book_files``, which rewrites the
tags of the book's finished files without touching their audio. A cover that was
drawn from the title is drawn again when the title or authors change.
"""

from __future__ import annotations

import unicodedata
from functools import partial
from typing import IO
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import transaction

from accounts.models import User
from ebookvoice import enqueue

from .errors import BookNotEditable, CoverNotAnImage, CoverTooLarge, CoverTooManyPixels, InvalidBookDetails
from .ingest.covers import MAX_COVER_BYTES, Cover, CoverRefused, generated_cover, normalise_cover
from .models import Book, StoredObject
from .selectors import book_get_for_user
from .storage import backend
from .storage import keys as storage_keys
from .storage.headers import content_type_for
from .storage.services import objects_delete_after_commit

MAX_TITLE_CHARS = 500
MAX_AUTHORS = 20
MAX_AUTHOR_CHARS = 200


def _one_line(value: str) -> str:
    """Whitespace runs made one space; control characters (a newline in a tag, a NUL) dropped."""
    kept = "".join(ch for ch in value if unicodedata.category(ch) != "Cc" or ch in "\t\n\r")
    return " ".join(kept.split())


def clean_title(title: str) -> str:
    cleaned = _one_line(title)
    if not cleaned:
        raise InvalidBookDetails("A book needs a title: the title can't be empty.")
    if len(cleaned) > MAX_TITLE_CHARS:
        raise InvalidBookDetails(
            f"The title is {len(cleaned):,} characters; it can be up to {MAX_TITLE_CHARS}."
        )
    return cleaned


def clean_authors(authors: list[str]) -> list[str]:
    cleaned: list[str] = []
    for author in authors:
        name = _one_line(author)
        if len(name) > MAX_AUTHOR_CHARS:
            raise InvalidBookDetails(f"An author's name can be up to {MAX_AUTHOR_CHARS} characters.")
        if name and name not in cleaned:
            cleaned.append(name)
    if len(cleaned) > MAX_AUTHORS:
        raise InvalidBookDetails(f"A book can list up to {MAX_AUTHORS} authors.")
    return cleaned


def book_details_update(
    *, user: User, book_uuid: UUID, title: str | None = None, authors: list[str] | None = None
) -> Book:
    """Set the book's title and/or authors (None leaves one as it is); another user's book is a 404."""
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    new_title = clean_title(title) if title is not None else book.title
    new_authors = clean_authors(authors) if authors is not None else list(book.authors)
    _check_editable(book)
    if (new_title, new_authors) == (book.title, list(book.authors)):
        return book
    redrawn: tuple[str, int] | None = None
    if book.cover_origin in (Book.CoverOrigin.GENERATED, ""):
        # Drawn and stored before the transaction: storage is slow I/O.
        redrawn = _store_edited_cover(book, generated_cover(new_title, new_authors))
    try:
        with transaction.atomic(durable=True):
            locked = _lock_editable(book)
            locked.title, locked.authors = new_title, new_authors
            fields = ["title", "authors", "updated_at"]
            if redrawn is not None and locked.cover_origin in (Book.CoverOrigin.GENERATED, ""):
                fields += _swap_cover(locked, redrawn, origin=Book.CoverOrigin.GENERATED)
            elif redrawn is not None:  # the reader uploaded a cover meanwhile: keep theirs
                _delete_on_commit([redrawn[0]])
            locked.save(update_fields=fields)
            enqueue.send_on_commit("audiobooks.retag_book_files", locked.pk)
    except BaseException:
        if redrawn is not None:  # stored for a change that did not happen: no one's
            objects_delete_after_commit(keys=[redrawn[0]])
        raise
    return locked


def book_cover_replace(*, user: User, book_uuid: UUID, upload: IO[bytes], size: int | None = None) -> Book:
    """Make the uploaded picture the book's cover, checked and converted as a book's own cover is."""
    book = book_get_for_user(user=user, book_uuid=book_uuid)
    _check_editable(book)
    if size is not None and size > MAX_COVER_BYTES:
        raise CoverTooLarge(_too_large(size))
    data = upload.read(MAX_COVER_BYTES + 1)
    if len(data) > MAX_COVER_BYTES:
        raise CoverTooLarge(_too_large(size or len(data)))
    if not data:
        raise CoverNotAnImage("The cover file is empty. Please choose a JPEG, PNG, GIF, WebP or SVG picture.")
    try:
        cover = normalise_cover(data)
    except CoverRefused as refused:
        error = {"too_large": CoverTooLarge, "too_many_pixels": CoverTooManyPixels}.get(
            refused.reason, CoverNotAnImage
        )
        raise error(refused.message) from refused
    stored = _store_edited_cover(book, cover)
    try:
        with transaction.atomic(durable=True):
            locked = _lock_editable(book)
            fields = _swap_cover(locked, stored, origin=Book.CoverOrigin.UPLOADED)
            locked.save(update_fields=[*fields, "updated_at"])
            enqueue.send_on_commit("audiobooks.retag_book_files", locked.pk)
    except BaseException:
        objects_delete_after_commit(keys=[stored[0]])
        raise
    return locked


def _too_large(size: int) -> str:
    return (
        f"This picture is {size / (1024 * 1024):,.0f} MB; a cover may be up to "
        f"{MAX_COVER_BYTES // (1024 * 1024)} MB."
    )


def _check_editable(book: Book) -> None:
    if book.status != Book.Status.READY:
        raise BookNotEditable(
            "This book's details can be changed once it has been read. "
            + ("It could not be read." if book.status == Book.Status.FAILED else "Please wait a moment.")
        )


def _lock_editable(book: Book) -> Book:
    locked = Book.objects.select_for_update().select_related("owner").filter(pk=book.pk).first()
    if locked is None:
        raise BookNotEditable("This book was deleted.")
    _check_editable(locked)
    return locked


def _store_edited_cover(book: Book, cover: Cover) -> tuple[str, int]:
    key = storage_keys.cover_key(
        user_uuid=book.owner.uuid, book_uuid=book.uuid, media_type=cover.media_type, edited=True
    )
    return key, backend.object_put(key, ContentFile(cover.data), content_type=cover.media_type)


def _swap_cover(book: Book, stored: tuple[str, int], *, origin: str) -> list[str]:
    """Record the new cover, forget the old one (deleted after commit); returns the fields to save."""
    key, size = stored
    old = StoredObject.objects.filter(book=book, kind=StoredObject.Kind.COVER).exclude(key=key)
    stale = set(old.values_list("key", flat=True)) | ({book.cover_key} if book.cover_key else set())
    old.delete()
    StoredObject.objects.create(
        key=key,
        owner_id=book.owner_id,
        book=book,
        kind=StoredObject.Kind.COVER,
        size=size,
        content_type=content_type_for(key),
        filename="",
    )
    _delete_on_commit(sorted(stale - {key}))
    book.cover_key, book.cover_origin = key, origin
    return ["cover_key", "cover_origin"]


def _delete_on_commit(keys: list[str]) -> None:
    """Objects whose rows this transaction removes go once it commits; nothing goes if it rolls back."""
    if keys:
        transaction.on_commit(partial(objects_delete_after_commit, keys=keys), robust=True)
