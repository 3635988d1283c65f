"""What ``purge_expired`` and ``reconcile_storage`` do; the commands only print.

Both delete rows first and objects after, as every delete in this app does
(see ``services``), so ``storage_used`` never counts a file that is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audiobooks import selectors
from audiobooks.models import Book, StoredObject
from audiobooks.storage import keys as storage_keys

from . import backend, conf

BATCH = 1000


# --- purge_expired --------------------------------------------------------------------


@dataclass
class Purged:
    count: int = 0
    bytes: int = 0


@dataclass
class PurgeResult:
    uploads: Purged = field(default_factory=Purged)  # direct uploads never finished
    originals: Purged = field(default_factory=Purged)
    parts: Purged = field(default_factory=Purged)
    parts_in_use: int = 0  # old enough to go, kept for a running conversion


def expired_uploads(now: datetime) -> QuerySet[StoredObject]:
    return StoredObject.objects.filter(expires_at__lte=now, book__isnull=True)


def expired_originals(now: datetime) -> QuerySet[StoredObject]:
    """Originals past their retention, except of a book still being read (it would fail)."""
    return StoredObject.objects.filter(
        kind=StoredObject.Kind.ORIGINAL,
        expires_at__isnull=True,
        created_at__lt=now - conf.originals_max_age(),
    ).exclude(book__status__in=(Book.Status.UPLOADED, Book.Status.INGESTING))


def expired_parts(now: datetime) -> QuerySet[StoredObject]:
    return StoredObject.objects.filter(kind=StoredObject.Kind.PART, created_at__lt=now - conf.parts_max_age())


def purge_expired(*, now: datetime | None = None, dry_run: bool = False) -> PurgeResult:
    now = now or timezone.now()
    result = PurgeResult()
    old_parts = expired_parts(now)
    result.parts_in_use = old_parts.filter(key__in=selectors.part_keys_in_use()).count()
    for queryset, purged in (
        (expired_uploads(now), result.uploads),
        (expired_originals(now), result.originals),
        (old_parts.exclude(key__in=selectors.part_keys_in_use()), result.parts),
    ):
        for rows in _batches(queryset, dry_run=dry_run):
            purged.count += len(rows)
            purged.bytes += sum(size for _, size in rows)
            if not dry_run:
                backend.objects_delete(key for key, _ in rows)
    return result


def _batches(queryset: QuerySet[StoredObject], *, dry_run: bool) -> Iterator[list[tuple[str, int]]]:
    """Rows of ``queryset`` a batch at a time, deleted (unless a dry run) before they are yielded.

    Each batch is locked and re-filtered in its own transaction, so a row that
    stopped matching meanwhile (an upload finished, a Part taken into use) stays.
    """
    last_id = 0
    while True:
        ids = list(queryset.filter(id__gt=last_id).order_by("id").values_list("id", flat=True)[:BATCH])
        if not ids:
            return
        last_id = ids[-1]
        if dry_run:
            yield list(queryset.filter(id__in=ids).values_list("key", "size"))
            continue
        with transaction.atomic(durable=True):
            locked = queryset.filter(id__in=ids).select_for_update(of=("self",))
            rows = list(locked.values_list("id", "key", "size"))
            StoredObject.objects.filter(id__in=[row_id for row_id, _, _ in rows]).delete()
        yield [(key, size) for _, key, size in rows]


# --- reconcile_storage ----------------------------------------------------------------


@dataclass
class ReconcileResult:
    objects: int = 0
    rows: int = 0
    orphan_objects: list[backend.ObjectInfo] = field(default_factory=list)  # objects with no row
    missing_objects: list[StoredObject] = field(default_factory=list)  # rows with no object
    deleted: bool = False


def _prefixes() -> list[str]:
    """Where to compare, one folder at a time: each user's folder, then the shared caches."""
    from_storage = set(backend.child_prefixes(storage_keys.USERS_PREFIX))
    from_rows = {
        storage_keys.user_prefix(user_uuid=user_uuid)
        for user_uuid in StoredObject.objects.filter(owner__isnull=False)
        .values_list("owner__uuid", flat=True)
        .distinct()
    }
    return [*sorted(from_storage | from_rows), storage_keys.PARTS_PREFIX, storage_keys.VOICE_PREVIEWS_PREFIX]


def reconcile_storage(
    *,
    delete: bool = False,
    grace: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    on_prefix: Callable[[str], None] = lambda prefix: None,
) -> ReconcileResult:
    """Compare rows with objects under ``users/`` and ``parts/``; with ``delete``, remove both kinds of stray.

    Per folder, rows are read before objects are listed: a row is written only
    after its object, so a row whose object is missing from the later listing
    really lost it. An object written after the rows were read looks like it
    has no row, so objects younger than ``grace`` are left alone (an upload
    being stored has its row a moment later). Pending direct uploads have no
    object yet by design and are ``purge_expired``'s business.
    """
    now = now or timezone.now()
    result = ReconcileResult(deleted=delete)
    for prefix in _prefixes():
        on_prefix(prefix)
        rows = {row.key: row for row in StoredObject.objects.filter(key__startswith=prefix)}
        objects = {info.key: info for info in backend.objects_under(prefix)}
        result.rows += len(rows)
        result.objects += len(objects)
        orphans = [info for key, info in objects.items() if key not in rows and info.modified < now - grace]
        missing = [row for key, row in rows.items() if key not in objects and row.expires_at is None]
        result.orphan_objects += orphans
        result.missing_objects += missing
        if delete:
            _delete_strays(orphans, missing)
    return result


def _delete_strays(orphans: list[backend.ObjectInfo], missing: list[StoredObject]) -> None:
    if missing:
        with transaction.atomic(durable=True):
            StoredObject.objects.filter(id__in=[row.id for row in missing], expires_at__isnull=True).delete()
    if orphans:
        # Look again: a row may have been recorded since the listing.
        keys = [info.key for info in orphans]
        recorded = set(StoredObject.objects.filter(key__in=keys).values_list("key", flat=True))
        backend.objects_delete(key for key in keys if key not in recorded)
