"""Ebook ingestion: EPUB, PDF, TXT and HTML in, clean chapters out.

Plain Python, no Django. Two calls make the public surface; both pick the format
from the file's bytes (never from its name alone) and raise `IngestError`, with a
stable code and a message for people, for a file they refuse:

* `open_book` (a context manager) reads and plans the book, then hands over its
  chapters one at a time, so a caller can store each as it comes and a book of any
  size fits in bounded memory;
* `ingest_file` returns the whole `IngestedBook`, for small books and tools.
"""

from __future__ import annotations

from .detect import ingest_file, open_book
from .errors import ErrorCode, IngestError
from .types import BookFormat, IngestedBook, IngestedChapter, StreamedBook

__all__ = [
    "BookFormat",
    "ErrorCode",
    "IngestError",
    "IngestedBook",
    "IngestedChapter",
    "StreamedBook",
    "ingest_file",
    "open_book",
]
