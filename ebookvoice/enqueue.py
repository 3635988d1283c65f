"""Sending Celery tasks by name: the one way code outside a ``tasks`` module asks for work.

As Zulip's ``queue_event_on_commit`` does, a service or a pipeline step names
the task it wants run (``"audiobooks.master_chapter"``) and never imports the
module that defines it, so no import cycle forms through the tasks. The queue
comes from ``CELERY_TASK_ROUTES`` by the task's name, as for any task;
``queue`` overrides it.

- ``send_on_commit`` is what writes use: the message goes once the
  transaction commits, so the worker always finds the rows it is about.
- ``send`` publishes now and never raises: a message the broker refuses is
  logged and counted (``ebookvoice_task_publish_failures_total``). The
  database row is the truth; the reaper sends again whatever waits too long.
- ``publish`` publishes now and raises, for the caller that waits on the
  result (a reader's text preview) or reports failures itself.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from celery.result import AsyncResult
from django.db import transaction
from prometheus_client import Counter

from ebookvoice.celery import app

logger = logging.getLogger(__name__)

PUBLISH_FAILURES = Counter(
    "ebookvoice_task_publish_failures",
    "Task messages that could not be sent to the broker, by task name.",
    ["task"],
)


def publish(task_name: str, *args: Any, **options: Any) -> AsyncResult:
    """Send ``task_name`` with ``args`` now, raising what the broker raised (``options``: apply_async's)."""
    return app.send_task(task_name, args=args, **options)


def send(task_name: str, *args: Any, queue: str | None = None, task_id: str | None = None) -> bool:
    """Send now; False, logged and counted, when the message could not be published."""
    options = {name: value for name, value in (("queue", queue), ("task_id", task_id)) if value}
    try:
        publish(task_name, *args, **options)
    except Exception:
        PUBLISH_FAILURES.labels(task=task_name).inc()
        logger.exception("could not send %s%r to the broker", task_name, args)
        return False
    return True


def send_on_commit(task_name: str, *args: Any, queue: str | None = None, task_id: str | None = None) -> None:
    """``send`` once the current transaction commits (at once outside one); nothing if it rolls back."""
    transaction.on_commit(partial(send, task_name, *args, queue=queue, task_id=task_id), robust=True)
