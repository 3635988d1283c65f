"""Tests: real PostgreSQL and Redis from DATABASE_URL and REDIS_URL.

``./dev test`` (``python -m ebookvoice.local_services``) starts both from PyPI
packages when the variables are not set, so nothing needs to be preinstalled.
"""

from __future__ import annotations

import os
import tempfile

from django.core.exceptions import ImproperlyConfigured

if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
    raise ImproperlyConfigured(
        "Tests need DATABASE_URL and REDIS_URL; run them with ./dev test, "
        "which starts PostgreSQL and Redis when those are not set."
    )

from .base import *  # noqa: F403

# Hashing cost buys nothing in tests and dominates sign-in heavy ones.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# One id per test run, inherited by the worker processes the tests start, so
# runs that share a PostgreSQL or Redis server never see each other's data.
TEST_RUN_ID = os.environ.setdefault("EBOOKVOICE_TEST_RUN_ID", os.urandom(4).hex())
DATABASES["default"]["TEST"] = {"NAME": f"test_ebookvoice_{TEST_RUN_ID}"}  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = f"ebv-test-{TEST_RUN_ID}"  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "global_keyprefix": f"ebv-test-{TEST_RUN_ID}:",
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS

# Files go to a folder of this run's own, shared with its worker processes.
MEDIA_ROOT = Path(  # noqa: F405
    os.environ.setdefault("EBOOKVOICE_TEST_MEDIA_ROOT", tempfile.mkdtemp(prefix="ebv-test-media-"))
)
if not USE_S3:  # noqa: F405
    STORAGES["default"]["OPTIONS"]["location"] = str(MEDIA_ROOT)  # noqa: F405
