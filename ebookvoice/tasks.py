"""Diagnostic tasks for operators and health checks (no business logic)."""

from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection


@shared_task(name="ebookvoice.ping", acks_late=False)
def ping() -> dict[str, str]:
    """Answer from a worker with where it runs and which database it reaches.

    It runs a query, so a worker whose database is unreachable fails the ping
    instead of answering as if healthy.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {
        "hostname": socket.gethostname(),
        "database_vendor": connection.vendor,
        "database_name": str(connection.settings_dict["NAME"]),
    }
