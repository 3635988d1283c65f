"""The pronunciation lexicon: entries for all your books or one, and its PLS and CSV files.

The body schema states every rule ``audiobooks.lexicon.checks`` applies (the
lengths, "a letter or digit", the IPA symbols the default voice can say, and
"a respelling or phonemes"), so a request the schema allows is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks.errors import LexiconFull
from audiobooks.lexicon import formats
from audiobooks.lexicon.checks import MAX_NOTE_CHARS, EntryInput, phoneme_check_voice
from audiobooks.lexicon.selectors import lexicon_entries, lexicon_entry_get_for_user, lexicon_export
from audiobooks.lexicon.services import (
    MAX_ENTRIES_PER_USER,
    lexicon_entry_create,
    lexicon_entry_delete,
    lexicon_entry_update,
    lexicon_import,
)
from ebookvoice.api.pagination import Pagination
from ebookvoice.api.schema import ApiAutoSchema, errors
from tts_engine import lexicon as speech_lexicon

from .common import user_of

BOOK = OpenApiParameter(
    "book",
    OpenApiTypes.UUID,
    description="A book's own entries; without it, the entries for all your books.",
)


def entry_schema(*, with_book: bool) -> dict[str, Any]:
    """The entry body as JSON Schema, built from the same limits the checks use."""
    _, symbols = phoneme_check_voice()
    phonemes = speech_lexicon.phonemes_pattern(symbols or ())
    properties: dict[str, Any] = {
        "text": {
            "type": "string",
            "maxLength": speech_lexicon.MAX_TEXT_CHARS,
            "pattern": speech_lexicon.LETTER_PATTERN,
            "description": "The word or phrase, matched on the book's text as written.",
        },
        "respelling": {
            "type": "string",
            "maxLength": speech_lexicon.MAX_RESPELLING_CHARS,
            "description": "How to say it in letters (“Kwee-kweg”); read like the text it replaces.",
        },
        "phonemes": {
            "type": "string",
            "maxLength": speech_lexicon.MAX_PHONEMES,
            "anyOf": [{"pattern": "^ *$"}, {"pattern": phonemes}],
            "description": (
                "IPA, one character a symbol, as espeak-ng writes it (“kwˈiːkwɛɡ”), optionally between "
                "slashes; every symbol one the voice can say. Used by voices that take phonemes (Piper); "
                "others use the respelling."
            ),
        },
        "case_sensitive": {"type": "boolean", "default": False},
        "whole_word": {"type": "boolean", "default": True},
        "note": {"type": "string", "maxLength": MAX_NOTE_CHARS},
    }
    if with_book:
        properties["book"] = {
            "type": "string",
            "format": "uuid",
            "nullable": True,
            "description": "One of your books, for an entry only it uses; null or left out for all of them.",
        }
    return {
        "type": "object",
        "properties": properties,
        "required": ["text"],
        "additionalProperties": False,
        "anyOf": [
            {"required": ["respelling"], "properties": {"respelling": {"pattern": r"\S"}}},
            {"required": ["phonemes"], "properties": {"phonemes": {"pattern": phonemes}}},
        ],
    }


class LexiconSchema(ApiAutoSchema):
    """A raw body schema is not marked required by drf-spectacular; an entry always needs one."""

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)
        if body and self.method in {"POST", "PUT"} and "application/json" in body.get("content", {}):
            body["required"] = True
        return body


class EntryBody(serializers.Serializer):
    """Reads the body; the rules are ``entry_checked``'s, each with its own error code."""

    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    respelling = serializers.CharField(required=False, default="", allow_blank=True, trim_whitespace=False)
    phonemes = serializers.CharField(required=False, default="", allow_blank=True, trim_whitespace=False)
    case_sensitive = serializers.BooleanField(required=False, default=False)
    whole_word = serializers.BooleanField(required=False, default=True)
    note = serializers.CharField(required=False, default="", allow_blank=True, trim_whitespace=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                raise serializers.ValidationError({name: ["There is no such field."] for name in unknown})
        return super().to_internal_value(data)


class EntryCreateBody(EntryBody):
    book = serializers.UUIDField(required=False, allow_null=True, default=None)


class EntryOutput(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    book = serializers.UUIDField(source="book.uuid", allow_null=True, default=None)
    text = serializers.CharField()
    respelling = serializers.CharField()
    phonemes = serializers.CharField()
    case_sensitive = serializers.BooleanField()
    whole_word = serializers.BooleanField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ImportInput(serializers.Serializer):
    file = serializers.FileField(help_text="A PLS file (.pls or .xml) or a CSV with a header row.")
    book = serializers.UUIDField(required=False, allow_null=True, default=None)


class ImportOutput(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


def _book_param(request: Request) -> UUID | None:
    raw = request.query_params.get("book")
    if raw in (None, ""):
        return None
    try:
        return UUID(str(raw))
    except ValueError:
        raise serializers.ValidationError({"book": ["Must be a valid UUID."]}) from None


def _entry(data: dict[str, Any]) -> EntryInput:
    return EntryInput(
        text=data["text"],
        respelling=data["respelling"],
        phonemes=data["phonemes"],
        case_sensitive=data["case_sensitive"],
        whole_word=data["whole_word"],
        note=data["note"],
    )


class LexiconListCreateApi(APIView):
    schema = LexiconSchema()
    pagination_class = Pagination

    @extend_schema(
        operation_id="lexicon_list",
        tags=["lexicon"],
        summary="Your pronunciation entries, for all your books or one book's own",
        parameters=[BOOK],
        responses={200: EntryOutput(many=True), **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        entries = lexicon_entries(user=user_of(request), book_uuid=_book_param(request))
        paginator = Pagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(EntryOutput(page or [], many=True).data)

    @extend_schema(
        operation_id="lexicon_create",
        tags=["lexicon"],
        summary="Say a word your way",
        description=(
            "A respelling, or IPA phonemes, or both. Refusals, each with its code: "
            "`empty_lexicon_entry`, `lexicon_entry_too_long`, `invalid_ipa`, `phonemes_not_in_voice` "
            "(checked against the default voice; a conversion checks its own voice again), "
            f"`lexicon_entry_exists` (409), `lexicon_full` (413, at {MAX_ENTRIES_PER_USER:,} entries)."
        ),
        request={"application/json": entry_schema(with_book=True)},
        responses={201: EntryOutput, **errors(400, 404, 409, 413)},
    )
    def post(self, request: Request) -> Response:
        data = EntryCreateBody(data=request.data)
        data.is_valid(raise_exception=True)
        entry = lexicon_entry_create(
            user=user_of(request), book_uuid=data.validated_data["book"], entry=_entry(data.validated_data)
        )
        return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)


class LexiconDetailApi(APIView):
    schema = LexiconSchema()

    @extend_schema(
        operation_id="lexicon_retrieve",
        tags=["lexicon"],
        summary="One entry",
        responses={200: EntryOutput, **errors(404)},
    )
    def get(self, request: Request, entry_uuid: UUID) -> Response:
        return Response(
            EntryOutput(lexicon_entry_get_for_user(user=user_of(request), entry_uuid=entry_uuid)).data
        )

    @extend_schema(
        operation_id="lexicon_update",
        tags=["lexicon"],
        summary="Replace an entry (its book stays)",
        request={"application/json": entry_schema(with_book=False)},
        responses={200: EntryOutput, **errors(400, 404, 409)},
    )
    def put(self, request: Request, entry_uuid: UUID) -> Response:
        data = EntryBody(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _entry(data.validated_data)
        entry = lexicon_entry_update(
            user=user_of(request),
            entry_uuid=entry_uuid,
            text=fields.text,
            respelling=fields.respelling,
            phonemes=fields.phonemes,
            case_sensitive=fields.case_sensitive,
            whole_word=fields.whole_word,
            note=fields.note,
        )
        return Response(EntryOutput(entry).data)

    @extend_schema(
        operation_id="lexicon_delete",
        tags=["lexicon"],
        summary="Delete an entry",
        responses={204: None, **errors(404)},
    )
    def delete(self, request: Request, entry_uuid: UUID) -> Response:
        lexicon_entry_delete(user=user_of(request), entry_uuid=entry_uuid)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _file_response(body: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class LexiconExportPlsApi(APIView):
    @extend_schema(
        operation_id="lexicon_export_pls",
        tags=["lexicon"],
        summary="Your entries as a W3C PLS 1.0 file (IPA)",
        parameters=[BOOK],
        responses={
            (200, "application/pls+xml"): OpenApiResponse(OpenApiTypes.BINARY, description="The lexicon."),
            **errors(400, 404),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        entries = lexicon_export(user=user_of(request), book_uuid=_book_param(request))
        return _file_response(
            formats.write_pls(entries), content_type="application/pls+xml", filename="lexicon.pls"
        )


class LexiconExportCsvApi(APIView):
    @extend_schema(
        operation_id="lexicon_export_csv",
        tags=["lexicon"],
        summary="Your entries as CSV: " + ", ".join(formats.CSV_COLUMNS),
        parameters=[BOOK],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The lexicon."),
            **errors(400, 404),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        entries = lexicon_export(user=user_of(request), book_uuid=_book_param(request))
        return _file_response(formats.write_csv(entries), content_type="text/csv", filename="lexicon.csv")


class LexiconImportApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="lexicon_import",
        tags=["lexicon"],
        summary="Add or update entries from a PLS or CSV file, all or nothing",
        description=(
            "A word already in the lexicon is updated. The first bad entry refuses the whole file, "
            "named by its number, with that entry's code; a file with a DTD or an entity, or one "
            f"that is not PLS or CSV, is `lexicon_file_refused`; more than {MAX_ENTRIES_PER_USER:,} "
            f"entries in all, or a file over {formats.MAX_FILE_BYTES // (1024 * 1024)} MB, is "
            "`lexicon_full` (413). Nothing is saved unless everything is."
        ),
        request={"multipart/form-data": ImportInput},
        responses={200: ImportOutput, **errors(400, 404, 409, 413)},
    )
    def post(self, request: Request) -> Response:
        data = ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > formats.MAX_FILE_BYTES:
            raise LexiconFull(f"A lexicon file can be at most {formats.MAX_FILE_BYTES // (1024 * 1024)} MB.")
        entries = formats.read_file(
            upload.read(formats.MAX_FILE_BYTES + 1), filename=upload.name or "", limit=MAX_ENTRIES_PER_USER
        )
        result = lexicon_import(user=user_of(request), book_uuid=data.validated_data["book"], entries=entries)
        return Response(ImportOutput(result).data)
