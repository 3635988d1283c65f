"""The one exception ingestion raises for bad input, with a stable code and a message for people."""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable identifiers: the API and the database keep these, so never rename one."""

    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    NOT_A_ZIP = "not_a_zip"
    CORRUPT_ZIP = "corrupt_zip"
    NOT_AN_EPUB = "not_an_epub"
    TOO_MANY_ENTRIES = "too_many_entries"
    FILENAME_NOT_UTF8 = "filename_not_utf8"
    DUPLICATE_ENTRY = "duplicate_entry"
    ZIP_BOMB = "zip_bomb"
    ENCRYPTED_ZIP = "encrypted_zip"
    DRM = "drm"
    ENTITY_DECLARATION = "entity_declaration"
    NO_CONTAINER = "no_container"
    NO_PACKAGE_PATH = "no_package_path"
    MISSING_PACKAGE = "missing_package"
    BAD_PACKAGE = "bad_package"
    NO_SPINE = "no_spine"
    MISSING_SPINE_DOCUMENT = "missing_spine_document"
    NO_TEXT = "no_text"
    CORRUPT_PDF = "corrupt_pdf"
    PDF_ENCRYPTED = "pdf_encrypted"
    PDF_NO_TEXT = "pdf_no_text"
    UNREADABLE = "unreadable"
    ZIP_SPECIAL_ENTRY = "zip_special_entry"
    TOO_DEEP = "too_deep"
    TOO_MANY_CHAPTERS = "too_many_chapters"


class IngestError(Exception):
    """A file we will not ingest.

    `message` is shown to the user as is (escaped by whoever renders it), so it
    names the problem in plain words and, where one exists, the way out.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"IngestError({self.code.value!r}, {self.message!r})"


def shown(name: str, limit: int = 80) -> str:
    """An archive member name fit for a message: the uploader chose it, so drop control
    characters and cut it short rather than echo whatever was put there."""
    cleaned = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned
