"""A refusal no view caught: ``DomainErrorMiddleware`` answers it as the API and the pages answer one.

Most views catch the ``DomainError`` they expect and answer it themselves
(``audiobooks.web.common.refusal``). Some come from deep below any view: the
storage or email circuit breaker open (``ServiceUnavailable``) while a page
streams a file, an allauth page sends a code, or a headless app signs up.
Those get the same status, code, message and ``Retry-After`` here: the API's
JSON envelope for apps and scripts, a page that says what happened for people,
never a 500. DRF's views answer their own (``ebookvoice.api.errors``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from .api.errors import domain_error_body, retry_after_headers
from .errors import DomainError

# Apps talk to these (the API, allauth's headless API): always JSON.
JSON_PREFIXES = ("/api/", "/_allauth/")


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith(JSON_PREFIXES)
        or request.GET.get("format") == "json"
        or (request.accepts("application/json") and not request.accepts("text/html"))
    )


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        response: HttpResponse
        if _wants_json(request):
            response = JsonResponse(domain_error_body(exception), status=exception.http_status)
        else:
            context = {"message": exception.message, "status": exception.http_status}
            response = render(request, "refused.html", context, status=exception.http_status)
        for header, value in retry_after_headers(exception).items():
            response[header] = value
        patch_cache_control(response, private=True, no_store=True)
        return response
