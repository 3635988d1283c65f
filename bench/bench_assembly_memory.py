"""Peak memory of a light worker while a 10-hour book is assembled. Prints one JSON object.

    .venv/bin/python bench/bench_assembly_memory.py              # 40 chapters of 15 minutes: 10 hours
    .venv/bin/python bench/bench_assembly_memory.py --hours 1    # a quicker look

Assembly is a join: it downloads each chapter's AAC segment and copies them
into the M4B with ffmpeg, so neither the worker nor ffmpeg should hold the
book (target: the light worker under 300 MB). One 15-minute segment is
mastered and encoded here (``audio.segment.encode_segment``) and stored once,
content-addressed, as a book of identical chapters would share it; the rows
of a conversion whose chapters are all ready are written, and a real
``celery worker`` on the light queue (as ``./dev up`` starts it) is sent
``audiobooks.assemble_book``. Sampled every 0.2 s from /proc: the peak
resident memory (VmHWM) of the worker's Celery processes and, apart, of the
ffmpeg it runs. Not a test: nothing asserts; the target is reported beside.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

CHAPTER_MINUTES = 15
TARGET_MB = 300


class PeakSampler(threading.Thread):
    """VmHWM of a process tree, by kind: Celery processes, and ffmpeg."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peaks: dict[str, float] = {"celery": 0.0, "ffmpeg": 0.0}
        self.stopped = threading.Event()

    def sample(self) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.root)
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error, OSError, AttributeError):
                    kind = "ffmpeg" if "ffmpeg" in process.name() else "celery"
                    status = Path(f"/proc/{process.pid}/status").read_text()
                    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
                    self.peaks[kind] = max(self.peaks[kind], hwm)

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.sample()


def segment(workdir: Path) -> tuple[Path, int, int]:
    """One mastered chapter of ``CHAPTER_MINUTES``: (its AAC segment, samples, sample rate)."""
    from audiobooks.audio.concat import ChapterAudio
    from audiobooks.audio.segment import encode_segment
    from audiobooks.audio.testing import write_tone

    rate, seconds = 22050, CHAPTER_MINUTES * 60
    tone = write_tone(workdir / "chapter.wav", seconds=seconds, rate=rate, dbfs=-12.0)
    chapter = ChapterAudio(path=tone, sample_rate=rate, num_samples=seconds * rate, sentences=[])
    encoded = encode_segment(
        chapter, gain_db=0.0, aac_target=workdir / "chapter.m4a", mp3_target=workdir / "c.mp3"
    )
    tone.unlink()
    return encoded.aac, encoded.samples, rate


def assembling_conversion(book: Any, key: str, samples: int, rate: int) -> Any:
    """A conversion of every chapter of ``book``, each ready with the one stored segment, sent to assembly."""
    from django.utils import timezone

    from audiobooks.models import Conversion, ConversionChapter

    now = timezone.now()
    conversion = Conversion.objects.create(
        owner=book.owner, book=book, status=Conversion.Status.ASSEMBLING, voice_key="piper:en_US-joe-medium",
        speed=1.0, characters=1000, charge_hundredths=0, operator_job=True, started_at=now,
        assembly_sent_at=now,
    )  # fmt: skip
    ConversionChapter.objects.bulk_create(
        ConversionChapter(
            conversion=conversion,
            chapter=chapter,
            position=position,
            status=ConversionChapter.Status.READY,
            gain_db=0.0,
            duration_ms=round(samples * 1000 / rate),
            samples=samples,
            segment_key=key,
            sources_digest="0" * 64,
            finished_at=now,
        )
        for position, chapter in enumerate(book.chapters.order_by("index"))
    )
    return conversion


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=10.0)
    args = parser.parse_args()
    chapters = max(1, round(args.hours * 60 / CHAPTER_MINUTES))

    from bench_pipeline import bench_environment, generated_book, ready_book

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="ebv-bench-") as tmp, bench_environment(Path(tmp)) as environ:
        from audiobooks.models import Conversion, StoredObject
        from audiobooks.storage import keys as storage_keys
        from audiobooks.storage.services import stored_object_save
        from ebookvoice.devstack import spawn, stop, worker_commands, worker_environ
        from ebookvoice.enqueue import send_on_commit
        from ebookvoice.tasks import ping

        workdir = Path(tmp)
        book = ready_book(
            generated_book(workdir, chapters=chapters, chapter_chars=200, seed=3, title="Ten hours")
        )
        encode_started = time.monotonic()
        aac, samples, rate = segment(workdir)
        encode_s = time.monotonic() - encode_started
        key = storage_keys.segment_key(
            user_uuid=book.owner.uuid, book_uuid=book.uuid, digest=hashlib.sha256(b"bench").hexdigest()
        )
        with aac.open("rb") as content:
            stored_object_save(
                key=key, content=content, kind=StoredObject.Kind.SEGMENT, owner=book.owner, book=book
            )
        conversion = assembling_conversion(book, key, samples, rate)

        command = worker_commands(2)["light-worker"]
        with (workdir / "worker.log").open("wb") as log:
            child = spawn("light-worker", command, worker_environ(environ, 2), output=log)
            try:
                ping.apply_async(queue="light").get(timeout=120)
                sampler = PeakSampler(child.process.pid)
                sampler.sample()
                idle_mb = sampler.peaks["celery"]
                sampler.start()
                started = time.monotonic()
                send_on_commit("audiobooks.assemble_book", conversion.pk)
                while True:
                    conversion.refresh_from_db()
                    if conversion.status in Conversion.FINISHED:
                        break
                    time.sleep(0.2)
                wall = time.monotonic() - started
                sampler.stopped.set()
                sampler.join()
                sampler.sample()
            finally:
                stop([child], say=lambda _: None, label="bench")
        m4b = StoredObject.objects.filter(book=book, kind=StoredObject.Kind.M4B).first()
        report = {
            "status": conversion.status,
            "chapters": chapters,
            "audio_hours": round((conversion.duration_ms or 0) / 3_600_000, 2),
            "m4b_mb": round(m4b.size / 2**20, 1) if m4b else None,
            "segment_encode_seconds_for_one_chapter": round(encode_s, 1),
            "assembly_wall_seconds": round(wall, 1),
            "light_worker_peak_rss_mb": round(sampler.peaks["celery"], 1),
            "light_worker_peak_rss_mb_after_start": round(idle_mb, 1),
            "ffmpeg_peak_rss_mb": round(sampler.peaks["ffmpeg"], 1),
            "target_light_worker_peak_rss_mb_under": TARGET_MB,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
