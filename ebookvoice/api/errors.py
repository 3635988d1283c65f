"""One JSON envelope for every API error: ``{"error": {"code": "...", "message": "..."}}``.

``api_exception_handler`` is ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``. Domain
errors (``ebookvoice.errors.DomainError``, which every app's refusals subclass)
carry their own message (written for people), their HTTP status and code,
and ``Retry-After`` when the error names a wait (429 over a rate limit, 503
with Redis down). This module imports no app.

DRF's own errors (401 without a token, 400 for invalid input, 404, 405, 415, …)
get the same envelope; invalid input also lists each field's problems under
``"fields"``. Requests that never reach a DRF view (an unknown path under
``/api/``, a crash) get it from ``not_found`` and ``server_error``, which
``ebookvoice.urls`` installs.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ebookvoice.errors import DomainError

API_PREFIX = "/api/"


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable, e.g. insufficient_credits.")
    message = serializers.CharField(help_text="Written for the person using the app; show it as it is.")
    # DRF pops declared fields off the class, so this does not shadow Serializer.fields.
    fields = serializers.DictField(  # type: ignore[assignment]
        required=False, help_text="Invalid input only: each field's problems, as DRF lists them."
    )


class ErrorSerializer(serializers.Serializer):
    """The envelope of every error response, whatever its status."""

    error = ErrorDetailSerializer()


def error_body(*, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def domain_error_body(error: DomainError) -> dict[str, Any]:
    return error_body(code=error.error_code, message=error.message)


def retry_after_headers(error: DomainError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds else {}


def _domain_error_response(error: DomainError) -> Response:
    return Response(domain_error_body(error), status=error.http_status, headers=retry_after_headers(error))


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _validation_message(fields: Any) -> str:
    """The first problem, naming its field: "size: A valid integer is required."."""
    for name, problems in fields.items():
        message = _first_message(problems)
        return message if name == "non_field_errors" else f"{name}: {message}"
    return "The request is not valid."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return _domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)  # keeps WWW-Authenticate, Retry-After, Allow
    if response is None or not isinstance(exc, exceptions.APIException):
        return response  # a bug: Django answers 500 (server_error below, for /api/)
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(code="invalid", message=_validation_message(fields), fields=fields)
    else:
        code = exc.get_codes()
        response.data = error_body(
            code=code if isinstance(code, str) else exc.default_code, message=_first_message(exc.detail)
        )
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


@csrf_exempt  # it changes nothing; a POST to a wrong path is a 404, not a CSRF page
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any path under ``/api/`` that names no endpoint (a malformed id included)."""
    return JsonResponse(error_body(code="not_found", message="There is no such endpoint."), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the envelope for the API, Django's page elsewhere. Never a user's mistake."""
    if _is_api(request):
        return JsonResponse(
            error_body(
                code="server_error",
                message="Something went wrong on our side. We have been told about it; please try again.",
            ),
            status=500,
        )
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400`` (a suspicious request, e.g. a bad Host or too many fields): the envelope for the API."""
    if _is_api(request):
        return JsonResponse(
            error_body(code="bad_request", message="This request cannot be read."), status=400
        )
    return defaults.bad_request(request, exception)
