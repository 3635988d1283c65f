"""Where a conversion stands, for the web page, the API and ``manage.py convert``.

The ETA comes from measured throughput: characters rendered per second by
this conversion since it started, or, before its first Part is done, by the
whole service over the last minutes, shared among the conversions running.
The ``*_label`` and ``*_clock`` functions say durations as the web pages and
the terminal show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from audiobooks.models import Conversion, ConversionChapter, Part

from .dispatch import RUNNABLE

THROUGHPUT_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class ConversionProgress:
    status: str
    percent: float  # of the characters, 100.0 only once completed
    parts_done: int
    parts_total: int
    chapters_ready: int
    chapters_total: int
    eta_seconds: int | None  # None when finished, or when nothing has been measured yet


def conversion_progress(conversion: Conversion) -> ConversionProgress:
    parts = conversion.parts.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=Part.Status.DONE)),
        chars_done=Sum("characters", filter=Q(status=Part.Status.DONE)),
    )
    chapters = conversion.selections.aggregate(
        total=Count("id"), ready=Count("id", filter=Q(status=ConversionChapter.Status.READY))
    )
    done_chars = int(parts["chars_done"] or 0)
    remaining = max(0, conversion.characters - done_chars)
    finished = conversion.status in Conversion.FINISHED
    if conversion.status == Conversion.Status.COMPLETED:
        percent = 100.0
    else:
        # Rendering is most of the work; the last percent is the M4B.
        percent = min(99.0, 99.0 * done_chars / conversion.characters) if conversion.characters else 0.0
    eta = None
    if not finished:
        rate = _own_rate(conversion, done_chars) or _shared_rate()
        eta = round(remaining / rate) if rate else None
    return ConversionProgress(
        status=conversion.status,
        percent=round(percent, 1),
        parts_done=parts["done"],
        parts_total=parts["total"],
        chapters_ready=chapters["ready"],
        chapters_total=chapters["total"],
        eta_seconds=eta,
    )


def _own_rate(conversion: Conversion, done_chars: int) -> float | None:
    if not done_chars or conversion.started_at is None:
        return None
    elapsed = (timezone.now() - conversion.started_at).total_seconds()
    return done_chars / elapsed if elapsed > 0 else None


def _shared_rate() -> float | None:
    since = timezone.now() - THROUGHPUT_WINDOW
    recent = Part.objects.filter(status=Part.Status.DONE, finished_at__gte=since).aggregate(
        chars=Sum("characters"), first=Min("started_at")
    )
    if not recent["chars"] or recent["first"] is None:
        return None
    elapsed = (timezone.now() - recent["first"]).total_seconds()
    running = Conversion.objects.filter(status__in=RUNNABLE).count() or 1
    return recent["chars"] / elapsed / running if elapsed > 0 else None


# --- Saying it -------------------------------------------------------------------------


def duration_label(milliseconds: int | None) -> str:
    """``1 h 04 min``, ``12 min``, ``45 s``: how long a recording lasts, as a listener reads it."""
    if milliseconds is None:
        return ""
    seconds = round(milliseconds / 1000)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def eta_label(seconds: int | None) -> str:
    """``About 12 min left``: the time left as the web page words it."""
    if seconds is None:
        return "Estimating time left…"
    if seconds < 60:
        return "Less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"About {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"About {hours} h {minutes:02d} min left"


def elapsed_label(seconds: float) -> str:
    """``42 s``, ``14 min``, ``3.2 h``: how long, the way a summary line says it."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        minutes = seconds / 60
        return f"{minutes:.1f} min" if minutes < 10 else f"{minutes:.0f} min"
    return f"{seconds / 3600:.1f} h"


def eta_clock(seconds: int | None) -> str:
    """``1:02:03`` or ``4:05``: the time left as a terminal's progress bar shows it."""
    if seconds is None:
        return "--:--"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
