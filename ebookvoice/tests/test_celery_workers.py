from __future__ import annotations

import pytest
from django.db import connection

from ebookvoice.celery import LIGHT_QUEUE, SYNTHESIS_QUEUE
from ebookvoice.local_services import redis_server
from ebookvoice.tasks import ping
from ebookvoice.workers import workers_may_be_listening

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("queue", [LIGHT_QUEUE, SYNTHESIS_QUEUE])
def test_a_real_worker_process_takes_work_from_each_queue_and_reaches_the_test_database(celery_worker, queue):
    answer = ping.apply_async(queue=queue).get(timeout=30)
    assert answer["database_vendor"] == "postgresql"
    assert answer["database_name"] == connection.settings_dict["NAME"]


def test_long_task_settings_follow_celery_advice(settings):
    from ebookvoice.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] >= 6 * 3600
    assert {queue.name for queue in app.conf.task_queues} == {LIGHT_QUEUE, SYNTHESIS_QUEUE}


def test_a_redis_broker_tells_at_once_whether_any_worker_listens(celery_worker, tmp_path):
    # The test worker consumes on the configured broker: it holds a pattern subscription there.
    assert workers_may_be_listening() is True
    with redis_server(tmp_path / "redis", persistent=False) as empty_redis:
        # Nothing has ever consumed on this one: no need to ask `inspect` and wait for silence.
        empty_broker = "redis+socket://" + empty_redis.removeprefix("unix://")
        assert workers_may_be_listening(empty_broker) is False


def test_a_broker_that_cannot_be_asked_counts_as_maybe_listening(tmp_path):
    # Unreachable: `manage.py convert` falls back to asking `inspect` patiently.
    assert workers_may_be_listening(f"redis+socket://{tmp_path / 'none.sock'}") is True
