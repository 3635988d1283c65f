"""JSON endpoints for the voice catalogue and its previews, for the web pages and (later) the API.

- ``GET /voices/``: every installed voice with its stock preview's URL and status.
- ``GET /voices/<key>/preview``: a redirect (302) to a fresh short-lived link to
  the stock clip; 202 while it is being made. Not rate limited.
- ``POST /voices/<key>/preview`` (``text``, optional ``speed``, as a form or
  JSON): the reader's own text spoken by a synthesis worker, answered as
  ``audio/mpeg``. Counted by ``Action.TEXT_PREVIEW``.

Anonymous requests get 401 with a JSON message, not a redirect to the
sign-in page: these answer scripts and ``<audio>`` elements, not people.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_safe

from audiobooks.storage import links
from audiobooks.voices import previews
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.errors import DomainError
from ebookvoice.inputs import InvalidInput, json_loads

from .common import refusal

View = Callable[..., HttpResponse]


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    http_status = 401


def _signed_in(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return refusal(request, NotAuthenticated("Sign in to hear the voices."))
        return view(request, *args, **kwargs)

    return wrapper


def preview_url(voice_key: str) -> str:
    """This site's stable URL of a voice's stock preview, which redirects to a fresh link."""
    return reverse("audiobooks:voice-preview", kwargs={"voice_key": voice_key})


@_signed_in
@require_safe
def voices_list(request: HttpRequest) -> JsonResponse:
    """``{"voices": [...]}``; ``preview_url`` is this app's stable URL, which redirects to a fresh link."""
    voices = [
        {
            "engine": listing.voice.engine,
            "key": listing.voice.key,
            "id": listing.voice.id,
            "name": listing.voice.name,
            "language": listing.voice.language,
            "quality": listing.voice.quality,
            "licence": listing.voice.licence,
            "non_commercial": listing.voice.non_commercial,
            "sample_rate": listing.voice.sample_rate,
            "preview_url": preview_url(listing.voice.key) if listing.preview else None,
            "preview_status": listing.status,
        }
        for listing in previews.voices_with_previews()
    ]
    response = JsonResponse({"voices": voices})
    patch_cache_control(response, private=True, no_cache=True)
    return response


@_signed_in
@require_http_methods(["GET", "HEAD", "POST"])
def voice_preview(request: HttpRequest, voice_key: str) -> HttpResponse:
    if request.method == "POST":
        return _text_preview(request, voice_key)
    return _stock_preview(request, voice_key)


def _stock_preview(request: HttpRequest, voice_key: str) -> HttpResponse:
    try:
        voice = previews.voice_get(voice_key=voice_key)
    except previews.UnknownVoice as error:
        return refusal(request, error)
    stored = previews.voice_preview_get(voice=voice)
    if stored is None:
        previews.voice_preview_request(voice_key=voice.key)
        return refusal(request, previews.PreviewNotReady())
    link = links.download_link(
        key=stored.key, filename=stored.filename, content_type=stored.content_type, disposition="inline"
    )
    response = HttpResponseRedirect(link.url)
    patch_cache_control(response, private=True, no_store=True)
    return response


def _text_preview(request: HttpRequest, voice_key: str) -> HttpResponse:
    fields: Any = request.POST
    if request.content_type == "application/json":
        try:
            fields = json_loads(request.body or b"{}")
        except InvalidInput:
            fields = None
        if not isinstance(fields, dict):
            return refusal(request, previews.PreviewError("Send a JSON object with text and speed."))
    try:
        preview = previews.text_preview_validate(
            voice_key=voice_key, text=fields.get("text"), speed=fields.get("speed")
        )
        # Counted only once the request is one we would serve: a typo costs no slot.
        check_rate_limit(request_or_key=request, action=Action.TEXT_PREVIEW)
        audio = previews.text_preview_synthesize(preview=preview)
    except DomainError as error:
        return refusal(request, error)
    response = HttpResponse(audio, content_type="audio/mpeg")
    response["Content-Disposition"] = 'inline; filename="preview.mp3"'
    response["X-Preview-Trimmed"] = "1" if preview.trimmed else "0"
    patch_cache_control(response, private=True, no_store=True)
    return response
