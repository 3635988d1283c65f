"""Reading the apps' own settings: one rule for a setting that must be a positive whole number."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def positive_int(name: str, default: int) -> int:
    """``settings.<name>``, or ``default`` when unset; a misconfiguration names the setting."""
    value = getattr(settings, name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive integer, not {value!r}.")
    return value
