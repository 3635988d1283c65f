"""The voice catalogue, each voice with a short-lived link to its stock preview once it is made."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audiobooks.delivery.files import FileLink
from audiobooks.storage import links
from audiobooks.voices import previews

from .common import link_data
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
