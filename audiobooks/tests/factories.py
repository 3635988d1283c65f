from __future__ import annotations

from pathlib import Path

from django.core.files import File

from accounts.models import User
from audiobooks.models import Book
from audiobooks.services import book_create_from_upload
from ebookvoice.paths import corpus_dir

CORPUS = corpus_dir()


def upload_file(owner: User, path: Path, *, filename: str | None = None) -> Book:
    with path.open("rb") as handle:
        return book_create_from_upload(owner=owner, upload=File(handle), filename=filename or path.name)
