"""A running Part's heartbeat: a thread that stamps the row, and notices when the Part is no longer ours.

The reaper requeues a Part whose heartbeat went stale (its worker was killed,
its machine lost). When the stamp finds the row changed hands (requeued by
the reaper, the conversion cancelled or failed), ``lost`` turns True and the
render stops at its next chunk.
"""

from __future__ import annotations

import logging
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
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-part-{part_id}", daemon=True)

    def lost(self) -> bool:
        return self._lost.is_set()

    def beat(self) -> bool:
        """Stamp the row now; False when the Part is no longer this worker's to render."""
        mine = Part.objects.filter(
            runnable_conversions(), pk=self.part_id, status=Part.Status.RUNNING, worker=self.worker
        )
        return bool(mine.update(heartbeat_at=timezone.now()))

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every_seconds):
                try:
                    if not self.beat():
                        self._lost.set()
                        return
                except Exception:
                    # A database blip: keep rendering; a long outage makes the
                    # heartbeat stale and the reaper hands the Part to another worker.
                    logger.warning("heartbeat of Part %s failed", self.part_id, exc_info=True)
                    connection.close()  # the next beat opens a fresh connection of this thread's own
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
