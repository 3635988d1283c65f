"""Turning switches on in tests without leaking them into other tests.

Waffle keeps switches in the (real, shared) Redis cache, and a test's
database rollback does not empty it; so each test that switches something
gets its own cache key prefix.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from waffle.models import Switch


@pytest.fixture(autouse=True)
def own_cache_prefix(settings: Any) -> None:
    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"{caches['default']['KEY_PREFIX']}-{uuid.uuid4().hex[:8]}"
    settings.CACHES = caches


def switch(name: str, active: bool = True) -> None:
    """Set a switch as staff would in the admin.

    Waffle empties its cache when the admin's transaction commits; a test's
    transaction never does, so the cache is emptied here.
    """
    made, _ = Switch.objects.update_or_create(name=name, defaults={"active": active})
    made.flush()
