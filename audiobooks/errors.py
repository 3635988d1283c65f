"""Errors the audiobooks app shows to people: each carries a message to display."""

from __future__ import annotations

from ebookvoice.errors import DomainError


class BookError(DomainError):
    code = "book_error"


class UnsupportedFileType(BookError):
    code = "unsupported_file_type"
    http_status = 415


class ConversionError(BookError):
    """A conversion request that cannot be accepted as it stands; nothing was written or charged."""

    code = "conversion_error"


class BookNotReady(ConversionError):
    code = "book_not_ready"
    http_status = 409


class NoChaptersSelected(ConversionError):
    code = "no_chapters_selected"


class UnknownChapter(ConversionError):
    code = "unknown_chapter"


class UnknownVoice(ConversionError):
    code = "unknown_voice"


class InvalidSpeed(ConversionError):
    code = "invalid_speed"


class InvalidIdempotencyKey(ConversionError):
    code = "invalid_idempotency_key"


class ConversionNotCancellable(ConversionError):
    code = "conversion_not_cancellable"
    http_status = 409
