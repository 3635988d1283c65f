"""A session's device in words, as people recognise it: "Chrome on Linux", not its user-agent string."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

UNKNOWN = "Unknown device"
# Longer user agents are not browsers people would recognise anyway, and parsing stays cheap.
MAX_PARSED = 1000


def _known(family: str | None) -> str:
    return "" if family in (None, "Other") else str(family)


@lru_cache(maxsize=1024)
def device_name(user_agent: str) -> str:
    """``Chrome on Linux``, ``Mobile Safari on iOS``, ``Firefox``; ``Unknown device`` if nothing is known."""
    if not user_agent.strip():
        return UNKNOWN
    result = parse(user_agent[:MAX_PARSED])
    browser = _known(result.user_agent.family if result.user_agent else None)
    system = _known(result.os.family if result.os else None)
    browser = "Headless Chrome" if browser == "HeadlessChrome" else browser
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or UNKNOWN
