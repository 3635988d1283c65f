"""The pipeline's settings (``PIPELINE_*`` in ``ebookvoice.settings.base``), read when used."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def synthesis_processes() -> int:
    return max(1, int(settings.PIPELINE_SYNTHESIS_PROCESSES))


def in_flight_limit() -> int:
    """Parts kept in the broker at once: one per synthesis process, plus one spare (see ``dispatch``)."""
    return synthesis_processes() + 1


def max_attempts() -> int:
    return max(1, int(settings.PIPELINE_MAX_PART_ATTEMPTS))


def heartbeat_seconds() -> float:
    return float(settings.PIPELINE_HEARTBEAT_SECONDS)


def owner_gone_after() -> timedelta:
    """A running Part's heartbeat older than this: a redelivered message may take the Part over."""
    return timedelta(seconds=2 * heartbeat_seconds())


def stale_after() -> timedelta:
    return timedelta(seconds=settings.PIPELINE_STALE_SECONDS)


def unclaimed_after() -> timedelta:
    """The floor of ``observed.unclaimed_after``."""
    return timedelta(seconds=settings.PIPELINE_UNCLAIMED_SECONDS)


def assembly_resend_after() -> timedelta:
    """The floor of ``observed.mastering_resend_after`` and ``observed.assembly_resend_after``."""
    return timedelta(seconds=settings.PIPELINE_ASSEMBLY_SECONDS)


def reap_every_seconds() -> float:
    return max(0.5, float(settings.PIPELINE_REAP_EVERY_SECONDS))
