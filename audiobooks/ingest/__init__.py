"""Ebook ingestion: EPUB, PDF, TXT and HTML in, clean chapters out.

Plain Python, no Django. `ingest_file` is the whole public surface: it picks the
format from the file's bytes (never from its name alone), and either returns an
`IngestedBook` or raises `IngestError` with a stable code and a message for people.
"""

from __future__ import annotations

from .detect import ingest_file
from .errors import ErrorCode, IngestError
from .types import BookFormat, IngestedBook, IngestedChapter

__all__ = ["BookFormat", "ErrorCode", "IngestError", "IngestedBook", "IngestedChapter", "ingest_file"]
