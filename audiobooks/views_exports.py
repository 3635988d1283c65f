"""``GET /books/<uuid>/acx.zip``: the book's ACX export, streamed while it is built (see ``exports``).

Everything that can refuse is checked before the response starts: another
user's book is a 404; a book with no ready chapter, or whose rendered audio
expired, is a 409 with a message (JSON for apps, a page for browsers). No
database transaction is held while the zip streams (``ATOMIC_REQUESTS`` is
off, and the stream runs after the view returns in any case). HEAD answers
the headers only, without building anything.
"""

from __future__ import annotations

import re
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.template import engines
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from accounts.models import User

from . import exports
from .storage.headers import content_disposition

_REFUSED_PAGE = """{% extends "base.html" %}
{% block title %}ACX export unavailable · eBookVoice{% endblock %}
{% block content %}
<section>
  <h1>We can't export this book for ACX yet</h1>
  <p role="alert">{{ message }}</p>
  <p><a href="{% url 'home' %}">Back</a></p>
</section>
{% endblock %}"""


def _wants_json(request: HttpRequest) -> bool:
    return request.GET.get("format") == "json" or (
        request.accepts("application/json") and not request.accepts("text/html")
    )


def _refused(request: HttpRequest, error: exports.ExportError) -> HttpResponse:
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse(
            {"error": {"code": error.code, "message": error.message}}, status=error.http_status
        )
    else:
        page = engines["django"].from_string(_REFUSED_PAGE)
        response = HttpResponse(page.render({"message": error.message}, request), status=error.http_status)
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def book_acx_zip(request: HttpRequest, book_uuid: UUID) -> HttpResponseBase:
    """The book's ready chapters as ACX MP3s (44.1 kHz, 192 kb/s CBR, at most 120 min each) in a zip."""
    assert isinstance(request.user, User)
    try:
        export = exports.acx_export_get_for_user(user=request.user, book_uuid=book_uuid)
    except exports.ExportError as error:
        return _refused(request, error)
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(content_type="application/zip")
    else:
        response = StreamingHttpResponse(exports.acx_zip_stream(export), content_type="application/zip")
    response["Content-Disposition"] = content_disposition(
        re.sub(r"[/\\]", "_", export.filename).strip(), disposition="attachment"
    )
    patch_cache_control(response, private=True, no_store=True)
    return response
