"""A running Part's heartbeat: its row is stamped while it renders, and the render learns when it is lost.

The reaper requeues a Part whose heartbeat went stale (its worker was killed,
its machine lost). When the stamp finds the row changed hands (requeued by
the reaper, the conversion cancelled or failed), ``lost`` turns True and the
render stops at its next chunk.

One thread per process stamps every Part the process renders, in one
statement, on one database connection of its own. A thread and a connection
per Part, opened at its first beat, made two connections per synthesis slot:
200 slots held 294 of PostgreSQL's 300 (``bench/bench_control_plane.py``).
"""

from __future__ import annotations

import logging
import os
import threading
from types import TracebackType

from django.db import connection
from django.utils import timezone

from audiobooks.models import Part

from .dispatch import runnable_conversions

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, *, part_id: int, worker: str, every_seconds: float) -> None:
        self.part_id = part_id
        self.worker = worker
        self.every_seconds = every_seconds
        self._lost = threading.Event()

    def lost(self) -> bool:
        return self._lost.is_set()

    def beat(self) -> bool:
        """Stamp this Part's row now; False when it is no longer this worker's to render."""
        mine = Part.objects.filter(
            runnable_conversions(), pk=self.part_id, status=Part.Status.RUNNING, worker=self.worker
        )
        return bool(mine.update(heartbeat_at=timezone.now()))

    def __enter__(self) -> Heartbeat:
        _beater(self.every_seconds).add(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        _beater(self.every_seconds).remove(self)


class _Beater:
    """Every ``every_seconds``, stamp the rows of all Parts this process renders; mark the lost ones."""

    def __init__(self, every_seconds: float) -> None:
        self.every_seconds = every_seconds
        self._beating: dict[int, Heartbeat] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="ebookvoice-heartbeat", daemon=True)
        self._thread.start()

    def add(self, heartbeat: Heartbeat) -> None:
        with self._lock:
            self._beating[id(heartbeat)] = heartbeat

    def remove(self, heartbeat: Heartbeat) -> None:
        with self._lock:
            self._beating.pop(id(heartbeat), None)

    def _run(self) -> None:
        stop = threading.Event()  # never set: the thread lives as long as its process
        while not stop.wait(self.every_seconds):
            with self._lock:
                beating = list(self._beating.values())
            if not beating:
                # Nothing renders here now: hold no connection meanwhile (a test database
                # must be droppable; a prefork process renders one Part at a time).
                connection.close()
                continue
            try:
                self.beat(beating)
            except Exception:
                # A database blip: keep rendering; a long outage makes the heartbeats stale
                # and the reaper hands the Parts to other workers.
                logger.warning("heartbeat of %d Parts failed", len(beating), exc_info=True)
                connection.close()  # the next beat opens a fresh connection of this thread's own

    @staticmethod
    def beat(beating: list[Heartbeat]) -> None:
        """Two statements for all of them: which are still ours, then their stamp."""
        workers: dict[str, list[Heartbeat]] = {}
        for heartbeat in beating:
            workers.setdefault(heartbeat.worker, []).append(heartbeat)
        now = timezone.now()
        for worker, heartbeats in workers.items():
            ours = set(
                Part.objects.filter(
                    runnable_conversions(),
                    pk__in=[heartbeat.part_id for heartbeat in heartbeats],
                    status=Part.Status.RUNNING,
                    worker=worker,
                ).values_list("id", flat=True)
            )
            if ours:
                Part.objects.filter(pk__in=ours, status=Part.Status.RUNNING, worker=worker).update(
                    heartbeat_at=now
                )
            for heartbeat in heartbeats:
                if heartbeat.part_id not in ours:
                    heartbeat._lost.set()


_beaters: dict[tuple[int, float], _Beater] = {}
_beaters_lock = threading.Lock()


def _beater(every_seconds: float) -> _Beater:
    """This process's beater (a forked child starts its own: threads do not survive a fork)."""
    key = (os.getpid(), every_seconds)
    with _beaters_lock:
        beater = _beaters.get(key)
        if beater is None:
            beater = _beaters[key] = _Beater(every_seconds)
        return beater
