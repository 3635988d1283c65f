"""Tasks are sent by name after commit; a message the broker refuses is logged and counted, never raised."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from ebookvoice import enqueue, queues
from ebookvoice.celery import app
from tests.celery_processes import app_using_broker

ROOT = Path(settings.BASE_DIR)


def waiting_in(queue: str) -> int:
    with queues._broker_client() as client:
        return int(client.llen(queues._key_prefix() + queue))


def failures(task: str) -> float:
    return enqueue.PUBLISH_FAILURES.labels(task=task)._value.get()


@pytest.mark.django_db(transaction=True)
def test_a_message_sent_on_commit_reaches_the_broker_only_once_the_transaction_commits():
    queue = f"test-enqueue-{uuid.uuid4().hex[:8]}"
    with transaction.atomic():
        enqueue.send_on_commit("audiobooks.ingest_book", 1, queue=queue)
        assert waiting_in(queue) == 0
    assert waiting_in(queue) == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_of_a_transaction_that_rolls_back_is_never_sent():
    queue = f"test-enqueue-{uuid.uuid4().hex[:8]}"
    with transaction.atomic():
        enqueue.send_on_commit("audiobooks.ingest_book", 1, queue=queue)
        transaction.set_rollback(True)
    assert waiting_in(queue) == 0


def test_a_message_the_broker_refuses_is_logged_and_counted_and_the_caller_goes_on(tmp_path, caplog):
    before = failures("audiobooks.assemble_book")
    with app_using_broker(f"unix://{tmp_path}/no-broker.sock"):
        assert enqueue.send("audiobooks.assemble_book", 7) is False
    assert failures("audiobooks.assemble_book") == before + 1
    assert "could not send audiobooks.assemble_book(7,) to the broker" in caplog.text


def _names_sent_by_name() -> set[str]:
    """Every task name a module outside the tests hands to ``enqueue`` as a literal string."""
    names: set[str] = set()
    for app_dir in ("accounts", "audiobooks", "billing", "credits", "tts_engine", "ebookvoice"):
        for path in (ROOT / app_dir).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "enqueue"
                ):
                    first = node.args[0]
                    assert isinstance(first, ast.Constant), f"{path}: send tasks by a literal name"
                    names.add(str(first.value))
    return names


def test_every_task_sent_by_name_is_a_task_celery_knows():
    app.loader.import_default_modules()  # what a worker's autodiscovery imports
    sent = _names_sent_by_name()
    assert {"audiobooks.synthesize_part", "billing.cancel_subscription"} <= sent
    assert sent <= set(app.tasks), sent - set(app.tasks)
