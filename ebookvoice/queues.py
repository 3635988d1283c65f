"""What is waiting in the broker, and which workers answer: for the status page, ``stats`` and metrics.

Celery's Redis transport keeps each queue as a Redis list named after it
(and one list per priority step beside it), under the transport's
``global_keyprefix``. They are read here with short socket timeouts, so a
broker outage makes these figures missing, never a page that hangs.
"""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from kombu.transport.redis import Channel

from ebookvoice.celery import LIGHT_QUEUE, SYNTHESIS_QUEUE, app

QUEUES = (LIGHT_QUEUE, SYNTHESIS_QUEUE)
TIMEOUT_SECONDS = 2


class BrokerUnavailable(Exception):
    pass


def _broker_client() -> redis.Redis:
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("redis+socket://"):
        url = "unix://" + url.removeprefix("redis+socket://")
    return redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)


def _key_prefix() -> str:
    return str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", ""))


def queue_keys(queue: str) -> list[str]:
    """The Redis lists that hold ``queue``'s messages: the queue itself and its priority steps."""
    prefix = _key_prefix()
    return [prefix + (f"{queue}{Channel.sep}{step}" if step else queue) for step in Channel.priority_steps]


def queue_depths() -> dict[str, int]:
    """Messages waiting in each queue (not counting those a worker holds unacknowledged)."""
    try:
        with _broker_client() as client, client.pipeline(transaction=False) as pipe:
            for queue in QUEUES:
                for key in queue_keys(queue):
                    pipe.llen(key)
            lengths = iter(pipe.execute())
            return {queue: sum(next(lengths) for _ in Channel.priority_steps) for queue in QUEUES}
    except redis.RedisError as error:
        raise BrokerUnavailable(type(error).__name__) from error


def workers_ping(timeout: float = 1.0) -> dict[str, Any]:
    """``celery inspect ping``: each worker that answered within ``timeout``, by its hostname."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
            replies = app.control.inspect(timeout=timeout, connection=connection).ping()
    except Exception as error:
        raise BrokerUnavailable(type(error).__name__) from error
    return dict(sorted((replies or {}).items()))
