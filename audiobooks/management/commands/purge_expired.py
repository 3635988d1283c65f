from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audiobooks.idempotency import RECORD_RETENTION, idempotency_records_purge
from audiobooks.storage import conf
from audiobooks.storage.lifecycle import Purged, purge_expired
from credits.errors import format_bytes


def _line(what: str, purged: Purged) -> str:
    return f"{purged.count:,} {what} ({format_bytes(purged.bytes)})"


class Command(BaseCommand):
    help = (
        "Delete stored files whose time is up, rows first, then objects: direct uploads started but "
        "not finished by their deadline (STORAGE_UPLOAD_EXPIRY_MINUTES); uploaded originals older "
        "than CREDITS_ORIGINALS_RETENTION_DAYS (except of a book still being read); cached Parts "
        "(parts/...) older than STORAGE_PARTS_MAX_AGE_HOURS, except any Part a conversion that is "
        "still running, or a book's current audiobook, needs (audiobooks.selectors.part_keys_in_use); "
        "and the API's Idempotency-Key records older than 48 hours. Safe to run at any time and to "
        "repeat; Celery beat runs it hourly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        result = purge_expired(dry_run=dry_run)
        keys = idempotency_records_purge(dry_run=dry_run)
        key_hours = round(RECORD_RETENTION.total_seconds() / 3600)
        verb = "Would delete" if dry_run else "Deleted"
        days = conf.originals_max_age().days
        hours = round(conf.parts_max_age().total_seconds() / 3600)
        self.stdout.write(
            f"{verb} {_line('unfinished uploads', result.uploads)}, "
            f"{_line(f'originals older than {days} days', result.originals)}, "
            f"{_line(f'cached Parts older than {hours} hours', result.parts)} and "
            f"{keys:,} Idempotency-Key records older than {key_hours} hours; "
            f"kept {result.parts_in_use:,} old Parts a running conversion or a current audiobook needs."
        )
