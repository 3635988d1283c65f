"""The credits app's settings, each with its default.

Every value is read from ``django.conf.settings`` at call time, not at import,
so ``override_settings`` in tests and a changed setting after a deploy both
take effect without restarting anything that imported this module.

=====================================  ===================================================
setting                                default
=====================================  ===================================================
``CREDITS_CHARS_PER_CREDIT``           ``50_000``: one credit buys this many characters; the ledger
                                       counts hundredths of a credit (500 characters each)
``CREDITS_SIGNUP_GRANT``               ``3``: free (whole) credits once per verified email address
``CREDITS_STORAGE_QUOTA_BYTES``        ``{"free": 2 GB, "premium": 50 GB}`` (decimal units)
``CREDITS_MAX_UPLOAD_BYTES``           ``200 MB``: the largest single upload
``CREDITS_ORIGINALS_RETENTION_DAYS``   ``30``: how long uploaded originals are kept
``CREDITS_RATE_LIMITS``                ``{"upload": "10/h", "conversion": "5/h", "text_preview": "60/h"}``
``CREDITS_RATE_LIMITS_PREMIUM``        ``{"upload": "30/h", "conversion": "20/h", "text_preview": "200/h"}``
=====================================  ===================================================

The two dictionaries may name only the entries they change; the rest keep
their defaults.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ebookvoice.conf import positive_int

KB = 1000
MB = 1000 * KB
GB = 1000 * MB

DEFAULT_CHARS_PER_CREDIT = 50_000
DEFAULT_SIGNUP_GRANT = 3
DEFAULT_STORAGE_QUOTA_BYTES: dict[str, int] = {"free": 2 * GB, "premium": 50 * GB}
DEFAULT_MAX_UPLOAD_BYTES = 200 * MB
DEFAULT_ORIGINALS_RETENTION_DAYS = 30
# Opening a Stripe Checkout costs API calls; the plan does not change how many a reader needs.
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "upload": "10/h",
    "conversion": "5/h",
    "text_preview": "60/h",
    "checkout": "20/h",
}
DEFAULT_RATE_LIMITS_PREMIUM: dict[str, str] = {
    "upload": "30/h",
    "conversion": "20/h",
    "text_preview": "200/h",
    "checkout": "20/h",
}


def chars_per_credit() -> int:
    return positive_int("CREDITS_CHARS_PER_CREDIT", DEFAULT_CHARS_PER_CREDIT)


def signup_grant() -> int:
    return positive_int("CREDITS_SIGNUP_GRANT", DEFAULT_SIGNUP_GRANT)


def max_upload_bytes() -> int:
    return positive_int("CREDITS_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)


def originals_retention_days() -> int:
    return positive_int("CREDITS_ORIGINALS_RETENTION_DAYS", DEFAULT_ORIGINALS_RETENTION_DAYS)


def storage_quota_bytes(plan: str) -> int:
    quotas = {**DEFAULT_STORAGE_QUOTA_BYTES, **getattr(settings, "CREDITS_STORAGE_QUOTA_BYTES", {})}
    try:
        return quotas[plan]
    except KeyError:
        raise ImproperlyConfigured(f"CREDITS_STORAGE_QUOTA_BYTES has no quota for plan {plan!r}.") from None


def rate_limits(plan: str = "free") -> dict[str, str]:
    """Rates in django-ratelimit's spelling ("10/h"), by action, for a plan."""
    if plan == "premium":
        return {**DEFAULT_RATE_LIMITS_PREMIUM, **getattr(settings, "CREDITS_RATE_LIMITS_PREMIUM", {})}
    return {**DEFAULT_RATE_LIMITS, **getattr(settings, "CREDITS_RATE_LIMITS", {})}
