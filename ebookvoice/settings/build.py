"""Static files as the production image serves them: collected, hashed, compressed.

The image build runs ``collectstatic`` with this profile, which needs no
secrets; production imports the same three settings from here.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import BASE_DIR, STORAGES

STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
