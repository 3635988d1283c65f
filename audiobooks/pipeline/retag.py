"""A book's finished files follow an edit of its title, authors or cover: tags rewritten, audio untouched.

Sent (``audiobooks.retag_book_files``) after every edit, and by assembly when the
book was edited while its conversion ran. Each conversion's ready MP3s and its
M4B are downloaded, retagged in place by mutagen
(``audio.retag``: no decode, no encode), and stored again under the same key.
Safe to send twice or out of order: what is written is the book as it is when
the work ends, for the work is done again if the book changed meanwhile.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from audiobooks.audio.ffmpeg import AudioError
from audiobooks.audio.retag import BookDetails, retag_m4b, retag_mp3
from audiobooks.models import Book, Conversion, ConversionChapter, StoredObject
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import stored_object_save

from .sources import authors_of, book_cover

logger = logging.getLogger(__name__)

# An edit during the work starts it again; a reader cannot type faster than this many times over.
MAX_ROUNDS = 5


def _details_of(book: Book) -> tuple[str, str, str]:
    return book.display_title, authors_of(book), book.cover_key


def book_files_retag(*, book_id: int) -> int:
    """Retag every finished file of the book's conversions; returns how many files were written."""
    written = 0
    for _ in range(MAX_ROUNDS):
        book = Book.objects.select_related("owner").filter(id=book_id).first()
        if book is None:
            return written
        before = _details_of(book)
        written += _retag_all(book)
        after = Book.objects.filter(id=book_id).first()
        if after is None or _details_of(after) == before:
            return written
    logger.warning("book %s: its details kept changing while its files were retagged", book_id)
    return written


def _retag_all(book: Book) -> int:
    written = 0
    # Every conversion: one still running has ready chapters whose MP3s were tagged before the edit
    # (assembly retags once more if the book changed while it ran), and a failed one keeps its chapters.
    conversions = Conversion.objects.filter(book=book).order_by("pk")
    with tempfile.TemporaryDirectory(prefix="ebv-retag-") as root:
        workdir = Path(root)
        details = BookDetails(
            title=book.display_title, author=authors_of(book), cover=book_cover(book=book, workdir=workdir)
        )
        for conversion in conversions:
            ids = storage_keys.deliverable_ids(conversion)
            chapters = conversion.selections.filter(status=ConversionChapter.Status.READY).select_related(
                "chapter"
            )
            for chapter in chapters:
                filename = f"{book.display_title} - {chapter.number:02d} - {chapter.chapter.title}.mp3"
                key = storage_keys.mp3_key(**ids, number=chapter.number)
                written += _retag_one(
                    book, key, StoredObject.Kind.MP3, filename, workdir=workdir, details=details
                )
            key = storage_keys.m4b_key(**ids)
            name = f"{book.display_title}.m4b"
            written += _retag_one(book, key, StoredObject.Kind.M4B, name, workdir=workdir, details=details)
    return written


def _retag_one(
    book: Book, key: str, kind: StoredObject.Kind, filename: str, *, workdir: Path, details: BookDetails
) -> int:
    if not StoredObject.objects.filter(key=key).exists():
        return 0
    path = workdir / ("book.m4b" if kind == StoredObject.Kind.M4B else "chapter.mp3")
    try:
        backend.object_download(key, path)
    except FileNotFoundError:
        return 0
    try:
        (retag_m4b if kind == StoredObject.Kind.M4B else retag_mp3)(path, details)
    except AudioError as error:
        logger.warning("could not retag %s: %s", key, error)
        return 0
    with path.open("rb") as content:
        stored_object_save(
            key=key, content=content, kind=kind, owner=book.owner, book=book, filename=filename
        )
    path.unlink()
    return 1
