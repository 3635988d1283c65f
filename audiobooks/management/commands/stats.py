from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from audiobooks.operators import stats
from ebookvoice.queues import BrokerUnavailable, queue_depths


class Command(BaseCommand):
    help = (
        "Print the service's figures: active users, books, conversions and Parts by status, hours of audio "
        "rendered (every done Part) and delivered (every completed M4B), messages waiting in the broker's "
        "light and synthesis queues, and worker throughput in × real time per engine (engine = the voice "
        "key before ':'): seconds of audio of done Parts over their render seconds (finished_at - "
        "started_at); Parts found in the render cache count with their short render time. --since-hours "
        "limits throughput to Parts finished that recently. --json prints one JSON object instead; a "
        "broker that cannot be reached shows as null queues."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object.")
        parser.add_argument(
            "--since-hours",
            type=float,
            default=None,
            help="Throughput of Parts finished in the last N hours.",
        )

    def handle(
        self, *args: Any, as_json: bool = False, since_hours: float | None = None, **options: Any
    ) -> None:
        since = timezone.now() - timedelta(hours=since_hours) if since_hours else None
        totals = stats.totals()
        throughput = stats.throughput_by_engine(since=since)
        try:
            queues: dict[str, int] | None = queue_depths()
        except BrokerUnavailable:
            queues = None
        if as_json:
            self.stdout.write(_json(totals, queues, throughput))
            return
        self.stdout.write(f"users: {totals.users}")
        self.stdout.write(f"books: {totals.books}")
        self.stdout.write("conversions: " + ", ".join(f"{k} {v}" for k, v in totals.conversions.items()))
        self.stdout.write("parts: " + ", ".join(f"{k} {v}" for k, v in totals.parts.items()))
        self.stdout.write(
            f"hours rendered: {totals.hours_rendered:.2f}, delivered: {totals.hours_delivered:.2f}"
        )
        if queues is None:
            self.stdout.write("queues: broker unavailable")
        else:
            self.stdout.write("queues: " + ", ".join(f"{k} {v}" for k, v in queues.items()))
        for row in throughput:
            factor = (
                f"{row.realtime_factor:.1f}× real time" if row.realtime_factor is not None else "no timing"
            )
            self.stdout.write(
                f"engine {row.engine}: {row.parts} Parts, {row.audio_seconds:.0f} s of audio "
                f"in {row.render_seconds:.0f} s, {factor}"
            )
        waiting = "?" if queues is None else sum(queues.values())
        overall = _overall(throughput)
        self.stdout.write(
            f"{totals.users} users, {totals.books} books, {totals.hours_rendered:.2f} hours rendered, "
            f"{waiting} messages queued, "
            + (f"{overall:.1f}× real time overall." if overall is not None else "nothing rendered yet.")
        )


def _overall(throughput: list[stats.EngineThroughput]) -> float | None:
    render = sum(row.render_seconds for row in throughput)
    return sum(row.audio_seconds for row in throughput) / render if render > 0 else None


def _json(
    totals: stats.Totals, queues: dict[str, int] | None, throughput: list[stats.EngineThroughput]
) -> str:
    return json.dumps(
        {
            **asdict(totals),
            "queues": queues,
            "throughput": [{**asdict(row), "realtime_factor": row.realtime_factor} for row in throughput],
        }
    )
