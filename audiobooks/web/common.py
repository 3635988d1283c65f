"""What every page and file view shares: who is asking, whether they want JSON, and how a refusal looks.

A refusal is a ``DomainError`` mapped exactly as the API maps it
(``ebookvoice.api.errors``): the same status, code, message and
``Retry-After``, as the API's JSON envelope for a script, or as a page that
says what happened for a person.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from accounts.models import User
from ebookvoice.api.errors import domain_error_body, retry_after_headers
from ebookvoice.errors import DomainError


def user_of(request: HttpRequest) -> User:
    """The signed-in reader (every view here is behind ``login_required`` or checks it first)."""
    assert isinstance(request.user, User)
    return request.user


def wants_json(request: HttpRequest) -> bool:
    """A script asking (``?format=json``, or JSON accepted and HTML not), rather than a browser page."""
    return request.GET.get("format") == "json" or (
        request.accepts("application/json") and not request.accepts("text/html")
    )


def refusal(
    request: HttpRequest,
    error: DomainError,
    *,
    template: str | None = None,
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """``error`` as the response: ``template`` with its ``message`` (and ``context``) for a page,
    the API's JSON envelope for a script or when there is no ``template``."""
    response: HttpResponse
    if template is None or wants_json(request):
        response = JsonResponse(domain_error_body(error), status=error.http_status)
    else:
        context = {"message": error.message, **(context or {})}
        response = render(request, template, context, status=error.http_status)
    for header, value in retry_after_headers(error).items():
        response[header] = value
    patch_cache_control(response, private=True, no_store=True)
    return response
