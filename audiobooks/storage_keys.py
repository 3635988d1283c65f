"""Storage keys: made by the server only, never from a user's filename.

users/<user_uuid>/uploads/<uuid>.<ext>          originals (with a TTL)
users/<user_uuid>/books/<book_uuid>/...         deliverables and the cover
parts/<sha256>.<ext>                            the shared render cache
"""

from __future__ import annotations

import uuid
from uuid import UUID

UPLOAD_EXTENSIONS = frozenset({"epub", "pdf", "txt", "html", "htm", "xhtml"})
COVER_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def upload_key(*, user_uuid: UUID, extension: str) -> str:
    if extension not in UPLOAD_EXTENSIONS:
        raise ValueError(f"not an upload extension: {extension!r}")
    return f"users/{user_uuid}/uploads/{uuid.uuid4()}.{extension}"


def book_prefix(*, user_uuid: UUID, book_uuid: UUID) -> str:
    return f"users/{user_uuid}/books/{book_uuid}/"


def cover_key(*, user_uuid: UUID, book_uuid: UUID, media_type: str) -> str:
    return book_prefix(user_uuid=user_uuid, book_uuid=book_uuid) + f"cover.{COVER_EXTENSIONS[media_type]}"
