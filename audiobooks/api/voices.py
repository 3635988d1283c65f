"""The voice catalogue, each voice with a short-lived link to its stock preview once it is made, and
previews of the reader's own text: the web's ``POST /voices/<key>/preview``, for apps.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks.delivery.files import FileLink
from audiobooks.storage import links
from audiobooks.voices import previews
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.api.schema import RETRY_AFTER, errors
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN
from tts_engine.previews import MAX_PREVIEW_CHARS

from .common import link_data, user_of
from .serializers import VoiceOutput


class VoiceListApi(APIView):
    @extend_schema(
        operation_id="voices_list",
        tags=["voices"],
        summary="Every installed voice, with its preview",
        description=(
            "A preview still `pending` is being made (ask again in a few seconds); a `failed` one "
            "will not be retried for an hour. Preview links last at most 15 minutes."
        ),
        responses={200: VoiceOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        voices = []
        for listing in previews.voices_with_previews():
            voice, stored = listing.voice, listing.preview
            preview = None
            if stored is not None:
                link = links.download_link(
                    key=stored.key,
                    filename=stored.filename,
                    content_type=stored.content_type,
                    disposition="inline",
                )
                preview = FileLink(link.url, link.expires_at, stored.content_type, stored.size)
            voices.append(
                {
                    "key": voice.key,
                    "engine": voice.engine,
                    "name": voice.name,
                    "language": voice.language,
                    "quality": voice.quality,
                    "licence": voice.licence,
                    "non_commercial": voice.non_commercial,
                    "sample_rate": voice.sample_rate,
                    "preview_status": listing.status,
                    "preview": link_data(request, preview),
                }
            )
        return Response(VoiceOutput(voices, many=True).data)


class TextPreviewInput(serializers.Serializer):
    """Documents the body; ``previews.text_preview_validate`` checks it, as it does the web's form."""

    text = serializers.CharField(
        help_text=f"What to hear read; past {MAX_PREVIEW_CHARS} characters it is cut at a word boundary."
    )
    speed = serializers.FloatField(required=False, min_value=SPEED_MIN, max_value=SPEED_MAX, default=1.0)


class TextPreviewApi(APIView):
    @extend_schema(
        operation_id="voices_preview_create",
        tags=["voices"],
        summary="Hear your own text read by a voice",
        description=(
            "Answers the MP3 itself (`audio/mpeg`), never stored; `X-Preview-Trimmed: 1` when the text "
            "was cut. Counted by the same limit as the web's previews (`RATE_LIMIT_TEXT_PREVIEWS`, "
            "60 an hour), only once the request is valid. 503 when no synthesis worker answers within "
            "30 seconds."
        ),
        request=TextPreviewInput,
        parameters=[RETRY_AFTER],
        responses={
            (200, "audio/mpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The preview as MP3."),
            **errors(400, 404, 415, 429, 503),
        },
    )
    def post(self, request: Request, voice_key: str) -> HttpResponse:
        fields: Any = request.data
        if not isinstance(fields, dict):
            raise previews.PreviewError("Send a JSON object with text and speed.")
        preview = previews.text_preview_validate(
            voice_key=voice_key, text=fields.get("text"), speed=fields.get("speed")
        )
        # Counted only once the request is one we would serve, on the web's counter for this person.
        check_rate_limit(request_or_key=str(user_of(request).pk), action=Action.TEXT_PREVIEW)
        audio = previews.text_preview_synthesize(preview=preview)
        response = HttpResponse(audio, content_type="audio/mpeg")
        response["Content-Disposition"] = 'inline; filename="preview.mp3"'
        response["X-Preview-Trimmed"] = "1" if preview.trimmed else "0"
        patch_cache_control(response, private=True, no_store=True)
        return response
