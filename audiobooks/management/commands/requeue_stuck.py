from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audiobooks.operators.stats import reap_preview
from audiobooks.pipeline import conf
from audiobooks.pipeline.reaper import conversions_reap


def _ids(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", … ({len(ids) - limit} more)" if len(ids) > limit else "")


class Command(BaseCommand):
    help = (
        "Run the reaper now, as beat's reaper thread does every PIPELINE_REAP_EVERY_SECONDS: a running "
        "Part whose heartbeat is older than PIPELINE_STALE_SECONDS goes back to pending (or, out of its "
        "PIPELINE_MAX_PART_ATTEMPTS attempts, fails and fails its conversion, which refunds the "
        "unrendered share); a Part sent but not claimed within max(PIPELINE_UNCLAIMED_SECONDS, 3 x the "
        "observed p99 claim latency) while a synthesis process is idle is sent again; chapters and books "
        "not picked up for mastering or assembly within max(PIPELINE_ASSEMBLY_SECONDS, 2 x their observed "
        "p99 time) are sent again; then the dispatcher fills the free broker slots. "
        "Only conversions still queued "
        "or synthesizing are touched. With --dry-run, list the Parts, chapters and books it would act "
        "on, reading the same conditions, and change nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be done; write nothing, send nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        if dry_run:
            preview = reap_preview()
            stale = int(conf.stale_after().total_seconds())
            lines = [
                (preview.requeue, f"Parts with a heartbeat older than {stale} s to requeue"),
                (preview.fail, f"Parts out of their {conf.max_attempts()} attempts to fail"),
                (preview.resend, "Parts sent but never claimed to send again"),
                (preview.chapters_resend, "chapters to send to mastering again"),
                (preview.books_resend, "books to send to assembly again"),
            ]
            for ids, what in lines:
                if ids:
                    self.stdout.write(f"would handle {len(ids)} {what}: {_ids(ids)}")
            self.stdout.write(
                f"Dry run, nothing changed: would requeue {len(preview.requeue)}, fail {len(preview.fail)}, "
                f"resend {len(preview.resend)} Parts, resend {len(preview.chapters_resend)} chapters and "
                f"{len(preview.books_resend)} books, and dispatch up to {preview.dispatch_up_to} Parts."
            )
            return
        reaped = conversions_reap()
        self.stdout.write(
            f"Requeued {reaped.requeued}, failed {reaped.failed}, resent {reaped.resent} Parts, "
            f"resent {reaped.assembly_resent} chapters and books, and dispatched {reaped.dispatched} Parts."
        )
