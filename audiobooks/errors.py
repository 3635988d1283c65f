"""Errors the audiobooks app shows to people: each carries a message to display."""

from __future__ import annotations


class BookError(Exception):
    code = "book_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFileType(BookError):
    code = "unsupported_file_type"
