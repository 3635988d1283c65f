"""Input and output serializers of the books API, kept apart: inputs validate shape, outputs render.

Inputs check only what a field's type can say (an integer, a range); every
rule about books, credits and conversions is the services' to enforce. The
class names are the schema's component names, so each is unique.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audiobooks.listening import MAX_CHAPTER_NUMBER, MAX_NOTE_LENGTH, MAX_POSITION_MS
from audiobooks.models import Book, Conversion, ConversionChapter
from credits.apis import CreditsField
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN
from tts_engine.registry import DEFAULT_VOICE


class LinkOutput(serializers.Serializer):
    """A short-lived link to one file; ask again for a fresh one once it expires."""

    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")


# --- Books ---------------------------------------------------------------------------------


class BookListFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Book.Status.choices, required=False)
    q = serializers.CharField(
        required=False, max_length=200, help_text="Part of the title, an author or the file's name."
    )
    ordering = serializers.ChoiceField(
        choices=["-created_at", "created_at", "title", "-title", "author", "-author"],
        default="-created_at",
        required=False,
    )


class BookUploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="An EPUB, PDF, TXT or HTML file.")


class BookUpdateInput(serializers.Serializer):
    """What an edit may change; each field left out stays as it is. The rules (a title can't be
    empty, a cover must be a picture) are the service's, so each refusal says exactly why."""

    title = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=10_000)
    authors = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=10_000),
        required=False,
        allow_empty=True,
        max_length=1_000,
        help_text="Every author, in order; an empty list for none.",
    )
    cover = serializers.FileField(required=False, help_text="multipart only: the new cover picture.")


class BookOutput(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    title = serializers.CharField(source="display_title", help_text="The book's title, else its file's name.")
    authors = serializers.ListField(child=serializers.CharField())
    contributors = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text='Creators who are not authors: [{"name": "Ed Editor", "role": "edt"}] (MARC relators).',
    )
    language = serializers.CharField()
    format = serializers.CharField()
    status = serializers.ChoiceField(choices=Book.Status.choices)
    error_code = serializers.CharField(help_text="Empty unless the book could not be read.")
    error_message = serializers.CharField(help_text="Empty unless the book could not be read.")
    original_filename = serializers.CharField()
    original_size = serializers.IntegerField()
    chapters_count = serializers.IntegerField()
    cover_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    ingested_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_cover_url(self, book: Book) -> str | None:
        url = self.context.get("cover_urls", {}).get(book.pk)
        return str(url) if url else None


class ChapterOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="What a conversion names the chapter by, from 0.")
    title = serializers.CharField()
    words = serializers.IntegerField()
    chars = serializers.IntegerField()
    included = serializers.BooleanField(help_text="Selected by default; front and back matter are not.")
    exclusion_reason = serializers.CharField()
    group = serializers.IntegerField(
        help_text="The chapter this row belongs to, from 0 in reading order: a chapter too long to hear "
        "at one sitting (or a book without chapters) comes as several rows, its sections, sharing it."
    )
    section = serializers.IntegerField(help_text="0 for a whole chapter; 1, 2, … for a section of one.")
    group_title = serializers.CharField(
        help_text="The divided chapter's title (the book's, for a book without chapters); empty for a "
        "whole chapter."
    )


class BookDetailOutput(BookOutput):
    warnings = serializers.ListField(child=serializers.CharField())
    chapters = ChapterOutput(many=True, source="chapters.all")


class BookQuoteInput(serializers.Serializer):
    chapters = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=2**31 - 1),
        max_length=10_000,
        help_text="Indexes of the chapters to convert (ChapterOutput.index).",
    )
    voice = serializers.CharField(required=False, default=DEFAULT_VOICE, max_length=200)
    speed = serializers.FloatField(required=False, default=1.0, min_value=SPEED_MIN, max_value=SPEED_MAX)


class BookQuoteOutput(serializers.Serializer):
    """Amounts as credits (a decimal string with two places) and as integer hundredths of a credit."""

    characters = serializers.IntegerField()
    audio_seconds = serializers.IntegerField(help_text="About how long the selection plays in this voice.")
    credits = CreditsField(source="cost_hundredths", help_text="The price, in credits.")
    credits_hundredths = serializers.IntegerField(source="cost_hundredths")
    balance = CreditsField(source="balance_hundredths")
    balance_hundredths = serializers.IntegerField()
    balance_audio_seconds = serializers.IntegerField(
        source="balance.audio_seconds", help_text="About how much audio the balance buys in this voice."
    )
    affordable = serializers.BooleanField()
    shortfall = CreditsField(source="shortfall_hundredths")
    shortfall_hundredths = serializers.IntegerField()
    language_warning = serializers.CharField(allow_null=True)


# --- Direct upload ----------------------------------------------------------------------------


class UploadStartInput(serializers.Serializer):
    filename = serializers.CharField(max_length=1000)
    size = serializers.IntegerField(min_value=0, help_text="The file's exact size in bytes.")
    content_type = serializers.CharField(max_length=200)


class UploadStartOutput(serializers.Serializer):
    upload_id = serializers.UUIDField()
    method = serializers.CharField()
    url = serializers.URLField()
    headers = serializers.DictField(child=serializers.CharField())
    url_expires_at = serializers.DateTimeField()
    finish_by = serializers.DateTimeField()
    finish_url = serializers.URLField()


class UploadFinishOutput(serializers.Serializer):
    book = serializers.UUIDField(source="uuid")
    status = serializers.ChoiceField(choices=Book.Status.choices)
    original_filename = serializers.CharField()
    original_size = serializers.IntegerField()


# --- Conversions ----------------------------------------------------------------------------


class ConversionListFilter(serializers.Serializer):
    book = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Conversion.Status.choices, required=False)


class ConversionCreateInput(serializers.Serializer):
    book = serializers.UUIDField()
    chapters = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=2**31 - 1),
        allow_empty=True,
        max_length=10_000,
        help_text="Indexes of the chapters to convert (ChapterOutput.index).",
    )
    voice = serializers.CharField(default=DEFAULT_VOICE, max_length=200)
    speed = serializers.FloatField(default=1.0, min_value=SPEED_MIN, max_value=SPEED_MAX)


class ChapterEditInput(serializers.Serializer):
    number = serializers.IntegerField(
        min_value=1, max_value=MAX_CHAPTER_NUMBER, help_text="The chapter's number in the audiobook, from 1."
    )
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=(
            "The chapter's new text: paragraphs separated by a blank line, cleaned as an uploaded book is; "
            "empty, wordless (400) or over 120,000 characters (413) is refused."
        ),
    )
    speed = serializers.FloatField(
        required=False, min_value=SPEED_MIN, max_value=SPEED_MAX, help_text="The chapter's own speed."
    )


class RevisionInput(serializers.Serializer):
    chapters = serializers.ListField(
        child=ChapterEditInput(),
        required=False,
        max_length=10_000,
        help_text="Edits of chapters; none: today's lexicon only.",
    )
    revert_to = serializers.UUIDField(
        required=False, help_text="An earlier completed revision of this audiobook to go back to."
    )


class RevisionQuoteOutput(serializers.Serializer):
    conversion = serializers.UUIDField(source="conversion.uuid", help_text="The audiobook revised.")
    parts = serializers.IntegerField(help_text="Parts the revision would have.")
    parts_rendered = serializers.IntegerField(source="parts_changed", help_text="Of them, those rendered.")
    characters_rendered = serializers.IntegerField(source="characters_changed")
    credits = CreditsField(source="cost_hundredths", help_text="The charge; reused Parts are free.")
    credits_hundredths = serializers.IntegerField(source="cost_hundredths")
    changes = serializers.ListField(child=serializers.CharField())


class ProgressOutput(serializers.Serializer):
    percent = serializers.FloatField(help_text="Of the characters; 100 only once completed.")
    parts_done = serializers.IntegerField()
    parts_total = serializers.IntegerField()
    chapters_ready = serializers.IntegerField()
    chapters_total = serializers.IntegerField()
    eta_seconds = serializers.IntegerField(
        allow_null=True, help_text="Null once finished, or before anything was measured."
    )


class ConversionChapterOutput(serializers.Serializer):
    number = serializers.IntegerField(help_text="In the finished book, from 1.")
    index = serializers.IntegerField(source="chapter.index", help_text="The book chapter's index.")
    title = serializers.CharField(source="chapter.title")
    status = serializers.ChoiceField(choices=ConversionChapter.Status.choices)
    duration_ms = serializers.IntegerField(allow_null=True)
    text_edited = serializers.BooleanField(help_text="Read from the reader's edited text, not the book's.")
    speed = serializers.FloatField(allow_null=True, help_text="Its own speed; null: the conversion's.")


class ConversionOutput(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    book = serializers.UUIDField(source="book.uuid")
    book_title = serializers.CharField(source="book.display_title")
    status = serializers.ChoiceField(choices=Conversion.Status.choices)
    voice = serializers.CharField(source="voice_key")
    speed = serializers.FloatField()
    characters = serializers.IntegerField()
    reused_characters = serializers.IntegerField(
        help_text="Of the characters, those of Parts reused from the audiobook revised: not charged."
    )
    revision_of = serializers.UUIDField(
        source="revision_of.uuid", allow_null=True, default=None, help_text="The conversion this revises."
    )
    changes = serializers.ListField(
        child=serializers.CharField(),
        help_text="What this revision changed, a line each; empty for the first.",
    )
    credits_charged = CreditsField(source="charge_hundredths", help_text="What was charged, in credits.")
    credits_charged_hundredths = serializers.IntegerField(source="charge_hundredths")
    error_message = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ConversionDetailOutput(ConversionOutput):
    progress = serializers.SerializerMethodField()
    chapters = ConversionChapterOutput(many=True, source="selections.all")

    @extend_schema_field(ProgressOutput)
    def get_progress(self, conversion: Conversion) -> dict[str, Any]:
        return dict(ProgressOutput(self.context["progress"]).data)


class ChapterFilesOutput(serializers.Serializer):
    number = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=ConversionChapter.Status.choices)
    duration_ms = serializers.IntegerField(allow_null=True)
    mp3 = LinkOutput(allow_null=True, help_text="Once the chapter is ready.")
    captions = LinkOutput(allow_null=True, help_text="WebVTT, once the chapter is ready.")


class ArchiveLinkOutput(serializers.Serializer):
    """A short-lived link to a zip written while it downloads, so its size is not known beforehand."""

    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
    content_type = serializers.CharField()
    files = serializers.IntegerField(help_text="How many files the zip holds.")


class ConversionFilesOutput(serializers.Serializer):
    conversion = serializers.UUIDField(source="conversion.uuid")
    status = serializers.ChoiceField(choices=Conversion.Status.choices, source="conversion.status")
    m4b = LinkOutput(allow_null=True, help_text="Once the conversion is completed.")
    mp3_zip = ArchiveLinkOutput(
        allow_null=True,
        help_text="The ready chapters' MP3s in one zip, once there is one; no session needed.",
    )
    chapters = ChapterFilesOutput(many=True)


# --- Voices --------------------------------------------------------------------------------


class VoiceOutput(serializers.Serializer):
    key = serializers.CharField(help_text="What a conversion names the voice by.")
    engine = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    quality = serializers.CharField()
    licence = serializers.CharField()
    non_commercial = serializers.BooleanField()
    sample_rate = serializers.IntegerField()
    preview_status = serializers.ChoiceField(choices=["ready", "pending", "failed"])
    preview = LinkOutput(allow_null=True, help_text="The stock clip, once it is ready.")


# --- Listening --------------------------------------------------------------------------------


class ProgressInput(serializers.Serializer):
    chapter = serializers.IntegerField(min_value=1, max_value=MAX_CHAPTER_NUMBER)
    position_ms = serializers.IntegerField(min_value=0, max_value=MAX_POSITION_MS)
    recorded_at = serializers.DateTimeField(
        required=False, help_text="When the listener was there; now when left out."
    )


class ListeningProgressOutput(serializers.Serializer):
    book = serializers.UUIDField()
    chapter = serializers.IntegerField()
    position_ms = serializers.IntegerField()
    recorded_at = serializers.DateTimeField(allow_null=True, help_text="Null when never listened to.")


class BookmarkCreateInput(serializers.Serializer):
    chapter = serializers.IntegerField(min_value=1, max_value=MAX_CHAPTER_NUMBER)
    position_ms = serializers.IntegerField(min_value=0, max_value=MAX_POSITION_MS)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_NOTE_LENGTH)


class BookmarkUpdateInput(serializers.Serializer):
    chapter = serializers.IntegerField(required=False, min_value=1, max_value=MAX_CHAPTER_NUMBER)
    position_ms = serializers.IntegerField(required=False, min_value=0, max_value=MAX_POSITION_MS)
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_NOTE_LENGTH)


class BookmarkOutput(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    chapter = serializers.IntegerField()
    position_ms = serializers.IntegerField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
