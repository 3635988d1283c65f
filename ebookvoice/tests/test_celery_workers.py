from __future__ import annotations

import pytest
from django.db import connection

from ebookvoice.celery import LIGHT_QUEUE, SYNTHESIS_QUEUE
from ebookvoice.tasks import ping

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
