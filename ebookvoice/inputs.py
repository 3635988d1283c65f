"""Odd input is the sender's mistake: parse it with bounds, so that it is a 400 and never a 500.

- ``json_loads``: JSON with its nesting bounded (``MAX_JSON_DEPTH``) before the
  decoder runs, so ``[`` × 100,000 is refused without recursing; no NUL in any
  string or key (PostgreSQL text cannot hold one).
- ``parse_int``: ASCII digits only (``'²'.isdigit()`` is true and ``int('²')``
  fails; ``int('٣')`` is 3), within the bounds the caller names (a model
  field's range), so a 30-digit number is refused rather than overflowing.
- ``parse_float``: finite and within bounds (``1e20`` seconds, ``nan``, ``inf``
  are refused).
- ``has_nul``: for query strings and form fields.

``JSONParser`` (DRF's ``DEFAULT_PARSER_CLASSES``) and
``JsonBodyGuardMiddleware`` (in front of allauth headless, which reads bodies
itself) use ``json_loads``. This module imports no app.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

MAX_JSON_DEPTH = 64
# PostgreSQL's integer and bigint, the ranges of the models' fields.
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

# What decides nesting: an escape (inside a string), a quote, a bracket. One pass, linear.
_NESTING_TOKENS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)
_ASCII_INT = re.compile(r"[+-]?[0-9]+")
_MAX_INT_DIGITS = 19  # more than bigint holds: refused before int() builds a huge number


class InvalidInput(ValueError):
    """The input cannot be read: the message is for the person who sent it."""


def json_depth_check(text: str, *, limit: int = MAX_JSON_DEPTH) -> None:
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    in_string = False
    for match in _NESTING_TOKENS.finditer(text):
        mark = match.group()
        if mark == '"':
            in_string = not in_string
        elif in_string:
            continue  # an escape, or a bracket inside a string
        elif mark in "[{":
            depth += 1
            if depth > limit:
                raise InvalidInput(f"JSON is nested more than {limit} levels deep.")
        elif mark in "]}":
            depth -= 1


def _nul_free(value: Any) -> None:
    # Depth is already bounded, so this recursion is too.
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput("Text cannot contain NUL characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _nul_free(key)
            _nul_free(item)
    elif isinstance(value, list):
        for item in value:
            _nul_free(item)


def json_loads(data: str | bytes) -> Any:
    """``json.loads`` that raises only ``InvalidInput`` (a ``ValueError``) on anything it cannot take."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise InvalidInput("JSON must be UTF-8.") from error
    json_depth_check(text)
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError, OverflowError) as error:
        raise InvalidInput(f"JSON parse error: {error}"[:200]) from error
    _nul_free(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not JSON.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 reads as inf
        raise InvalidInput(f"{text[:20]} is too large a number.")
    return number


def parse_int(value: str | None, *, low: int, high: int) -> int | None:
    """The integer written in ASCII digits, when it lies in ``[low, high]``; otherwise None."""
    if value is None:
        return None
    text = value.strip()
    if not _ASCII_INT.fullmatch(text) or len(text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        return None
    number = int(text)
    return number if low <= number <= high else None


def parse_float(value: str | None, *, low: float, high: float) -> float | None:
    """The finite number written in ASCII, when it lies in ``[low, high]``; otherwise None."""
    if value is None or not value.isascii() or len(value) > 64:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    # NaN fails both comparisons, infinities the bounds.
    return number if low <= number <= high else None


def has_nul(*values: str) -> bool:
    return any("\x00" in value for value in values)


class JSONParser(DrfJSONParser):
    """DRF's parser, through ``json_loads``: a bad body is a 400 ``parse_error``, never a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read() if stream is not None else b""
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(f"The body is not {encoding}.") from error
        try:
            return json_loads(text)
        except InvalidInput as error:
            raise ParseError(str(error)) from error


class JsonBodyGuardMiddleware:
    """In front of allauth headless (which calls ``json.loads`` itself): a body it cannot take is a 400.

    Also refuses NUL in the query string of any request, and in a form body,
    before a view hands it to PostgreSQL. Multipart bodies are left to the
    views (uploads set their own handlers before the body is read).
    """

    HEADLESS_PREFIX = "/_allauth/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        return refusal if refusal is not None else self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        if has_nul(request.path) or any(has_nul(key, *request.GET.getlist(key)) for key in request.GET):
            return _bad_request(request, "The address cannot contain NUL characters.")
        content_type = request.content_type or ""
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            if content_type == "application/x-www-form-urlencoded":
                if any(has_nul(key, *request.POST.getlist(key)) for key in request.POST):
                    return _bad_request(request, "A form field cannot contain NUL characters.")
            elif request.path.startswith(self.HEADLESS_PREFIX) and request.body:
                try:
                    json_loads(request.body)
                except InvalidInput as error:
                    return _bad_request(request, str(error))
        return None


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith(JsonBodyGuardMiddleware.HEADLESS_PREFIX):
        # allauth headless's own error shape.
        body: dict[str, Any] = {"status": 400, "errors": [{"message": message, "code": "invalid"}]}
    else:
        body = {"error": {"code": "parse_error", "message": message}}
    return JsonResponse(body, status=400)
