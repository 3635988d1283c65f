"""The Celery app and its queues.

Two queues keep light work apart from synthesis: ingestion, assembly and email
must never wait behind hours of rendering, and GPU and CPU workers can take
different queues.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ebookvoice.settings.base")

LIGHT_QUEUE = "light"
SYNTHESIS_QUEUE = "synthesis"

app = Celery("ebookvoice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue(LIGHT_QUEUE), Queue(SYNTHESIS_QUEUE))
app.autodiscover_tasks()
app.conf.include = ["ebookvoice.tasks"]
