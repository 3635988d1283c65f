"""Storage settings, read from ``django.conf.settings`` at call time.

==================================  ========  ================================================
setting                             default   meaning
==================================  ========  ================================================
``STORAGE_LINK_MAX_AGE_SECONDS``    ``900``   lifetime of a download or upload link; at most 900
``STORAGE_UPLOAD_EXPIRY_MINUTES``   ``120``   a started direct upload not finished by then is deleted
``STORAGE_PARTS_MAX_AGE_HOURS``     ``48``    cached Parts older than this are purged (unless in use)
``CREDITS_ORIGINALS_RETENTION_DAYS`` ``30``   uploaded originals older than this are purged (credits)
``CREDITS_MAX_UPLOAD_BYTES``        200 MB    the largest upload (credits)
==================================  ========  ================================================
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from credits import conf as credits_conf
from ebookvoice.conf import positive_int

# The ceiling: no link to a private object lives longer than this.
MAX_LINK_AGE_SECONDS = 15 * 60


def link_max_age_seconds() -> int:
    seconds = positive_int("STORAGE_LINK_MAX_AGE_SECONDS", MAX_LINK_AGE_SECONDS)
    if seconds > MAX_LINK_AGE_SECONDS:
        raise ImproperlyConfigured(
            f"STORAGE_LINK_MAX_AGE_SECONDS is {seconds}; links may live at most {MAX_LINK_AGE_SECONDS} s."
        )
    return seconds


def upload_expiry() -> timedelta:
    return timedelta(minutes=positive_int("STORAGE_UPLOAD_EXPIRY_MINUTES", 120))


def parts_max_age() -> timedelta:
    return timedelta(hours=positive_int("STORAGE_PARTS_MAX_AGE_HOURS", 48))


def originals_max_age() -> timedelta:
    return timedelta(days=credits_conf.originals_retention_days())


def max_upload_bytes() -> int:
    return credits_conf.max_upload_bytes()
