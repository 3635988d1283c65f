"""Writes that keep objects and their ``StoredObject`` rows in step.

The order is what keeps ``storage_used`` exact and leaves nothing to leak:

- writing: the object first (slow, outside any transaction), then its row;
- deleting: the row first (in a transaction), then the object.

A crash between the two steps leaves an object with no row, never a row that
counts bytes the user does not have; ``reconcile_storage`` finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import IO
from uuid import UUID

from django.core.files import File
from django.db import transaction

from accounts.models import User
from audiobooks.models import Book, StoredObject
from audiobooks.selectors import storage_used_bytes
from audiobooks.storage import keys as storage_keys
from credits.selectors import upload_check

from . import backend
from .headers import content_type_for

logger = logging.getLogger(__name__)


def stored_object_save(
    *,
    key: str,
    content: IO[bytes] | File,
    kind: StoredObject.Kind,
    owner: User | None = None,
    book: Book | None = None,
    content_type: str | None = None,
    filename: str = "",
) -> StoredObject:
    """Write an object under ``key`` (replacing any) and record it.

    What the conversion pipeline calls for every file it keeps: deliverables
    (``storage_keys.m4b_key``, ``mp3_key``, ``captions_key``) with the book's
    owner and the book, and cached Parts (``storage_keys.part_key``) with
    neither. ``filename`` is the name a download gets (for an MP3, say
    "Title - 03 - Chapter.mp3"); the content type defaults to the key's.
    """
    content_type = content_type or content_type_for(key)
    size = backend.object_put(key, content, content_type=content_type)
    with transaction.atomic(durable=True):
        stored, _ = StoredObject.objects.update_or_create(
            key=key,
            defaults={
                "owner": owner,
                "book": book,
                "kind": kind,
                "size": size,
                "content_type": content_type,
                "filename": filename[:255],
                "expires_at": None,
            },
        )
    return stored


def stored_objects_delete(*, keys: Iterable[str]) -> int:
    """Forget these objects, then delete them; returns how many rows went."""
    keys = list(keys)
    with transaction.atomic(durable=True):
        deleted, _ = StoredObject.objects.filter(key__in=keys).delete()
    objects_delete_after_commit(keys=keys)
    return deleted


def objects_delete_after_commit(*, keys: Iterable[str] = (), prefixes: Iterable[str] = ()) -> None:
    """Delete objects whose rows are already gone; a failure is logged, not raised.

    The rows decided it: the user no longer has these files and no longer pays
    for them. If the bucket cannot be reached now, ``reconcile_storage``
    removes the leftovers later.
    """
    try:
        backend.objects_delete(keys)
        for prefix in prefixes:
            backend.objects_delete_prefix(prefix)
    except Exception:
        logger.exception("storage: could not delete objects; reconcile_storage will remove them")


def user_objects_delete(*, user_uuid: UUID) -> None:
    """Delete every object under a user's folder, after the user (and so their rows) is gone."""
    objects_delete_after_commit(prefixes=[storage_keys.user_prefix(user_uuid=user_uuid)])


def owner_lock_and_check_upload(*, owner: User, size_bytes: int) -> None:
    """Inside the caller's transaction: lock the owner, then refuse an upload over the cap or quota.

    Holding the owner's row lock until commit serialises a user's concurrent
    uploads, so two of them cannot both fit into the same free space.
    """
    User.objects.select_for_update().filter(pk=owner.pk).values_list("pk", flat=True).get()
    upload_check(user=owner, size_bytes=size_bytes, storage_used_bytes=storage_used_bytes(user=owner))
