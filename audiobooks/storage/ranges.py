"""HTTP Range (RFC 9110 §14) for the local download view, so audio can seek."""

from __future__ import annotations

import re

_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """416: the range starts past the end (or the object is empty)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last, inclusive) ``header`` asks for, or None for the whole object.

    A header this server does not understand, or several ranges, is ignored
    (the whole object is a valid answer to any Range request); a range that
    starts at or past the end raises ``RangeNotSatisfiable``.
    """
    if not header:
        return None
    match = _SINGLE_RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # bytes=-N: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable()
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # not a valid range-spec: ignore the header
    if first >= size:
        raise RangeNotSatisfiable()
    return first, min(int(last_text), size - 1) if last_text else size - 1
