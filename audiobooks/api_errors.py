"""One JSON envelope for every API error: ``{"error": {"code": "...", "message": "..."}}``.

Domain errors carry their own message (written for people) and, where it is
not 400, their HTTP status:

- ``audiobooks`` ``BookError`` and its subclasses (``code`` and ``http_status``
  on the class; ``UnsupportedFileType`` is 415);
- ``credits`` ``CreditsError`` and its subclasses (``http_status`` on the
  class; the code is the class name in snake case), with ``Retry-After``
  when the error names a wait (429 over a rate limit, 503 with Redis down).

DRF's own errors (401 without a token, 400 for invalid input, 404, 405, …)
get the same envelope; invalid input also lists each field's problems under
``"fields"``. Anything else is a bug and is left to Django (a 500).

This lives in ``audiobooks`` until the API has more than one app's views;
then it belongs in ``ebookvoice`` and in ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``,
and ``ApiErrorsMixin`` goes away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from credits.errors import CreditsError

from .errors import BookError, UnsupportedFileType


def error_code(error: BookError | CreditsError) -> str:
    """The machine-readable code: the class's ``code``, else its name in snake case."""
    code = getattr(error, "code", None)
    return code or re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


def error_response(
    *, code: str, message: str, status_code: int, extra: dict[str, Any] | None = None
) -> Response:
    return Response({"error": {"code": code, "message": message, **(extra or {})}}, status=status_code)


def _domain_error_response(error: BookError | CreditsError) -> Response:
    status_code: int
    if isinstance(error, UnsupportedFileType):
        status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    else:
        status_code = getattr(error, "http_status", status.HTTP_400_BAD_REQUEST)
    response = error_response(code=error_code(error), message=error.message, status_code=status_code)
    if retry_after := getattr(error, "retry_after_seconds", None):
        response["Retry-After"] = str(retry_after)
    return response


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
    if isinstance(exc, BookError | CreditsError):
        return _domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)  # keeps WWW-Authenticate, Retry-After, Allow
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "error": {
                "code": "invalid",
                "message": _validation_message(fields),
                "fields": fields,
            }
        }
    else:
        code = exc.get_codes()
        response.data = {
            "error": {
                "code": code if isinstance(code, str) else exc.default_code,
                "message": _first_message(exc.detail),
            }
        }
    return response


class ApiErrorsMixin:
    """Give an APIView ``api_exception_handler`` without changing the project-wide setting."""

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return api_exception_handler
