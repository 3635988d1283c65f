"""Errors the audiobooks app shows to people: each carries a message to display."""

from __future__ import annotations

from ebookvoice.errors import DomainError


class BookError(DomainError):
    code = "book_error"


class UnsupportedFileType(BookError):
    code = "unsupported_file_type"
    http_status = 415


class InvalidBookDetails(BookError):
    """An edit of a book's title or authors that can't be kept: empty, too long, too many."""

    code = "invalid_book_details"


class CoverTooLarge(BookError):
    code = "cover_too_large"
    http_status = 413


class CoverTooManyPixels(BookError):
    """A picture of more pixels than any cover: a decompression bomb, or a poster scan."""

    code = "cover_too_many_pixels"
    http_status = 422


class CoverNotAnImage(BookError):
    code = "cover_not_an_image"
    http_status = 415


class BookNotEditable(BookError):
    """The book is still being read (or could not be): its details come from that reading."""

    code = "book_not_editable"
    http_status = 409


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


class LexiconRefused(BookError):
    """A lexicon entry, file or conversion the lexicon cannot serve; nothing was written."""

    code = "lexicon_refused"


class EmptyLexiconEntry(LexiconRefused):
    code = "empty_lexicon_entry"


class LexiconEntryTooLong(LexiconRefused):
    code = "lexicon_entry_too_long"


class InvalidIpa(LexiconRefused):
    code = "invalid_ipa"


class PhonemesNotInVoice(LexiconRefused):
    code = "phonemes_not_in_voice"


class PhonemesNotSupported(LexiconRefused):
    code = "phonemes_not_supported"


class LexiconEntryExists(LexiconRefused):
    code = "lexicon_entry_exists"
    http_status = 409


class LexiconFull(LexiconRefused):
    code = "lexicon_full"
    http_status = 413


class LexiconFileRefused(LexiconRefused):
    """A PLS or CSV file that is unsafe (a DTD, an entity) or not one at all."""

    code = "lexicon_file_refused"
