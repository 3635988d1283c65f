"""Small helpers the API views share."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from accounts.models import User
from audiobooks.delivery.files import ArchiveLink, FileLink


def user_of(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def link_data(request: Request, link: FileLink | None) -> dict[str, Any] | None:
    """A link as ``LinkOutput`` renders it; local-mode links are paths on this site, made absolute."""
    if link is None:
        return None
    return {
        "url": request.build_absolute_uri(link.url),
        "expires_at": link.expires_at,
        "content_type": link.content_type,
        "size": link.size,
    }


def archive_link_data(request: Request, link: ArchiveLink | None) -> dict[str, Any] | None:
    """A zip's link as ``ArchiveLinkOutput`` renders it: a path on this site, made absolute."""
    if link is None:
        return None
    return {
        "url": request.build_absolute_uri(link.url),
        "expires_at": link.expires_at,
        "content_type": link.content_type,
        "files": link.files,
    }
