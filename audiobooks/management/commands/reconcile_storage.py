from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audiobooks.storage.lifecycle import reconcile_storage
from credits.errors import format_bytes


class Command(BaseCommand):
    help = (
        "Compare storage with its StoredObject rows under users/, parts/ and voices/previews/, "
        "one folder at a time, and report objects that have no row (leaked files, not counted in anyone's "
        "storage_used) and rows that have no object (files counted but lost). Objects younger "
        "than --grace-minutes are skipped, since a file being uploaded gets its row a moment after "
        "it is stored; pending direct uploads are purge_expired's business. With --delete, remove "
        "both: the objects with no row and the rows with no object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--delete", action="store_true", help="Delete the strays found instead of only reporting them."
        )
        parser.add_argument(
            "--grace-minutes",
            type=int,
            default=60,
            help="Leave objects younger than this alone (default 60).",
        )

    def handle(self, *args: Any, delete: bool = False, grace_minutes: int = 60, **options: Any) -> None:
        verbose = int(options.get("verbosity", 1)) > 1
        result = reconcile_storage(
            delete=delete,
            grace=timedelta(minutes=grace_minutes),
            on_prefix=(lambda prefix: self.stdout.write(f"checking {prefix}"))
            if verbose
            else (lambda _: None),
        )
        for info in result.orphan_objects:
            self.stdout.write(f"object without a row: {info.key} ({format_bytes(info.size)})")
        for row in result.missing_objects:
            self.stdout.write(f"row without an object: {row.key} (row {row.pk}, {format_bytes(row.size)})")
        orphan_bytes = sum(info.size for info in result.orphan_objects)
        action = "deleted" if delete else "found (run with --delete to remove them)"
        self.stdout.write(
            f"Checked {result.objects:,} objects and {result.rows:,} rows: "
            f"{len(result.orphan_objects):,} objects without a row ({format_bytes(orphan_bytes)}) and "
            f"{len(result.missing_objects):,} rows without an object {action}."
        )
