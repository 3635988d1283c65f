"""Benchmark the conversion pipeline end to end on real workers. Prints one JSON object.

    .venv/bin/python bench/bench_pipeline.py                 # about 35 minutes on 2 cores
    .venv/bin/python bench/bench_pipeline.py --fairness-only # about 5 minutes
    .venv/bin/python bench/bench_pipeline.py --chapters 3 --chapter-chars 3000 --skip-baseline  # a look
    .venv/bin/python bench/bench_pipeline.py --quick         # 4 chapters: ceilings, converts, one run
    .venv/bin/python bench/bench_pipeline.py --longest-last  # the same book with its longest chapter last
    .venv/bin/python bench/bench_pipeline.py --convert-only --chapters 6 --chapter-chars 11600  # 70k chars

A fixed generated book (by default 12 chapters of about 9,000 characters: 108k
characters, every sentence unique so the render cache never helps) is
converted by the real pipeline: PostgreSQL (a fresh database on DATABASE_URL's
server, or SQLite under a temporary folder without it), a private Redis,
``celery worker`` processes started as ``./dev up`` starts them, mastering,
MP3s, captions and the M4B. Measured:

- baseline: the same engine and Parts' text in one single-thread process, no
  pipeline (render_to_wav, Part after Part); then the same Parts dealt to N
  such processes side by side, the machine's own ceiling for N;
- for 1 and N synthesis processes: audio seconds, wall seconds, x real time of
  synthesis alone (Part audio / first claim to last Part done) and end to end
  (M4B audio / submit to completed), peak resident memory of every worker
  process, and the CPU-seconds the light worker (mastering, both encodings,
  captions, the M4B) spent per minute of audio;
- while Parts render: how busy the synthesis processes were and where they
  waited (before the first Part, between Parts, after the last); and from
  the first claim until the last chapter is mastered, the machine's
  CPU-seconds by who used them (synthesis worker, light worker, PostgreSQL,
  Redis, this benchmark, anything else), idle included;
- parallel efficiency: synthesis x real time with N processes / (N x with 1),
  and against N x the baseline (target >= 0.9);
- first chapter playable (its MP3 stored) after submission, against the
  target of its audio duration / 12 + 20 s;
- fairness: a short book's first chapter alone, then submitted while a long
  book renders (target <= 2 x alone + 30 s); ``--skip-fairness`` leaves it out;
- the tail: last Part done to conversion completed, against 5 s + 0.5 s per
  chapter + 0.3 s per minute of the last chapter's audio; start-up (workers
  started to the first claim); end to end against the side-by-side ceiling
  (target >= 0.85), and wall - synthesis window, what the tail and start-up cost;
- ``manage.py convert`` as an operator runs it, with nothing running (it starts
  its own workers), in ``--convert-rounds`` rounds (3) of a side-by-side
  ceiling then a convert run, interleaved because the machine is shared: per
  run and as medians, start-up (command start to the first claim, target
  <= 5 s), the tail, end to end (command start to the M4B written) against
  the median ceiling (target >= 0.85), wall - synthesis window beside it, and
  the light queue's CPU-seconds per audio minute (its processes, ffmpeg
  included, from the first claim on); then the same book with its longest
  chapter last, once (``convert.longest_chapter_last``).

The generated chapters differ in length (the longest about twice the
shortest); ``--longest-last`` moves the longest to the end, the tail's worst case.

Not a test: nothing asserts; the targets are reported beside the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VOICE_ID = "en_US-joe-medium"
# Peak RSS is a high-water mark and CPU times only grow: sampling often would only steal CPU.
SAMPLE_EVERY_S = 2.0
POLL_EVERY_S = 0.5

_SUBJECTS = (
    "The miller",
    "Eliza",
    "The vicar",
    "Mr. Ashby",
    "The carrier",
    "Her uncle",
    "The harbour master",
    "A fisherman",
    "The schoolmistress",
    "Old Mrs. Penrose",
    "The stranger",
    "Young Tom",
)
_VERBS = ("walked", "waited", "wrote", "listened", "argued", "laughed", "looked", "worked", "sailed", "sang")
_PLACES = (
    "by the mill",
    "on the quay",
    "at the top of Beacon Hill",
    "in the long field",
    "under the elms",
    "beside the river",
    "at the Michaelmas fair",
    "in the churchyard",
    "on the Bristol road",
)
_AFTER = (
    "until the light failed", "while the rain came on", "as the bells rang for evensong",
    "though nobody had asked", "for the better part of an hour", "as if the world depended on it",
)  # fmt: skip


def chapter_sizes(chapters: int, chapter_chars: int, *, longest_last: bool) -> list[int]:
    """Characters per chapter: from 0.7 to 1.4 x ``chapter_chars``, the longest third from the end
    (or last, with ``longest_last``), so the last chapter is not always the longest."""
    sizes = [
        round(chapter_chars * (0.7 + 0.7 * ((n * 7) % chapters) / max(1, chapters - 1)))
        for n in range(chapters)
    ]
    longest = sizes.index(max(sizes))
    sizes.append(sizes.pop(longest))
    if not longest_last and chapters >= 3:
        sizes.insert(chapters - 3, sizes.pop())
    return sizes


def generated_book(
    directory: Path, *, chapters: int, chapter_chars: int, seed: int, title: str, longest_last: bool = False
) -> Path:
    """An EPUB of original prose whose every sentence is unique (it carries its own numbers)."""
    from audiobooks.tests.ingest_fixtures import EpubSpec, nav_list, xhtml

    rng = random.Random(seed)  # noqa: S311  # a fixed book, not a secret
    counter = 0
    documents = []
    sizes = chapter_sizes(chapters, chapter_chars, longest_last=longest_last)
    for number in range(1, chapters + 1):
        paragraphs, size = [], 0
        while size < sizes[number - 1]:
            sentences = []
            for _ in range(rng.randint(3, 6)):
                counter += 1
                sentences.append(
                    f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_PLACES)} "
                    f"{rng.choice(_AFTER)}, on the {counter}th day of the {seed}th year."
                )
            paragraph = " ".join(sentences)
            paragraphs.append(f"<p>{paragraph}</p>")
            size += len(paragraph)
        heading = f"Chapter {number}"
        documents.append(
            (f"c{number}.xhtml", xhtml(f"<h1>{heading}</h1>{''.join(paragraphs)}", title=heading))
        )
    nav = nav_list([(f"Chapter {n}", f"c{n}.xhtml") for n in range(1, chapters + 1)])
    return EpubSpec(documents=documents, nav=nav, title=title).write(directory, f"{title}.epub")


# --- The environment: a database, a private Redis, Django ------------------------------------


@contextlib.contextmanager
def bench_environment(workdir: Path) -> Iterator[dict[str, str]]:
    """Set up Django on a fresh database and a private Redis; yield the environment workers need."""
    from ebookvoice.local_services import redis_server

    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ebookvoice.settings.base",
        "EBOOKVOICE_VAR_DIR": str(workdir / "var"),
    }
    environ.pop("CELERY_BROKER_URL", None)
    database = ""
    if os.environ.get("DATABASE_URL"):
        import psycopg

        server = os.environ["DATABASE_URL"]
        database = f"ebv_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        environ["DATABASE_URL"] = urlsplit(server)._replace(path=f"/{database}").geturl()
    with redis_server(workdir / "redis", persistent=False) as redis_url:
        environ["REDIS_URL"] = redis_url
        os.environ.clear()
        os.environ.update(environ)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        try:
            yield environ
        finally:
            from django.db import connections

            connections.close_all()
            if database:
                import psycopg

                with psycopg.connect(server, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def ready_book(path: Path) -> Any:
    from django.core.files import File

    from accounts.models import User
    from audiobooks.models import Book
    from audiobooks.services import book_create_from_upload, book_ingest

    user, _ = User.objects.get_or_create(email="bench@ebookvoice.invalid")
    with path.open("rb") as handle:
        book = book_create_from_upload(owner=user, upload=File(handle), filename=path.name)
    book_ingest(book_id=book.id)
    book.refresh_from_db()
    assert book.status == Book.Status.READY, book.error_message
    return book


def submit(book: Any) -> Any:
    from audiobooks.pipeline.submit import conversion_submit
    from tts_engine.registry import DEFAULT_VOICE

    return conversion_submit(
        user=book.owner,
        book_uuid=book.uuid,
        chapter_indexes=list(book.chapters.values_list("index", flat=True)),
        voice_key=DEFAULT_VOICE,
        speed=1.0,
        operator_job=True,
    )


def clear_render_cache() -> None:
    from audiobooks.models import StoredObject
    from audiobooks.storage.services import stored_objects_delete

    keys = list(StoredObject.objects.filter(kind=StoredObject.Kind.PART).values_list("key", flat=True))
    stored_objects_delete(keys=keys)


# --- Workers, and what they use ----------------------------------------------------------------


class Sampler(threading.Thread):
    """Peak RSS (VmHWM) of every worker process, and the CPU the light worker's processes used."""

    def __init__(
        self, roots: dict[str, int], *, match: str = "celery", every_s: float = SAMPLE_EVERY_S
    ) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.match = match  # the processes counted: those whose command line holds it
        self.every_s = every_s
        self.peak_mb: dict[str, dict[int, float]] = {name: {} for name in roots}
        self.cpu_s: dict[str, dict[int, float]] = {name: {} for name in roots}
        self.stopped = threading.Event()

    def sample(self) -> None:
        import psutil

        for name, pid in self.roots.items():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for process in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error, OSError):
                        if self.match not in " ".join(process.cmdline()):
                            continue  # ffmpeg: counted in its worker's children time once reaped
                        status = Path(f"/proc/{process.pid}/status").read_text()
                        hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
                        self.peak_mb[name][process.pid] = max(self.peak_mb[name].get(process.pid, 0), hwm)
                        times = process.cpu_times()
                        self.cpu_s[name][process.pid] = (
                            times.user + times.system + times.children_user + times.children_system
                        )

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            self.sample()

    def cpu_total(self, name: str) -> float:
        return sum(self.cpu_s[name].values())


@contextlib.contextmanager
def workers(environ: dict[str, str], processes: int, workdir: Path) -> Iterator[dict[str, Any]]:
    from django.conf import settings

    from ebookvoice.devstack import spawn, stop, worker_commands, worker_environ
    from ebookvoice.tasks import ping

    settings.PIPELINE_SYNTHESIS_PROCESSES = processes  # this process dispatches at submission
    commands = {name: command for name, command in worker_commands(processes).items() if name != "beat"}
    children = []
    starting = time.time()
    with (workdir / f"workers-{processes}.log").open("wb") as log:
        try:
            for name, command in commands.items():
                children.append(spawn(name, command, worker_environ(environ, processes), output=log))
            for queue in ("light", "synthesis"):
                ping.apply_async(queue=queue).get(timeout=120)
            roots: dict[str, Any] = {child.name: child.process.pid for child in children}
            roots["_started"] = starting  # not a process: when the workers were started, for start-up
            yield roots
        finally:
            stop(children, say=lambda _: None, label="bench")


def cpu_snapshot(roots: dict[str, int]) -> dict[str, float]:
    """CPU-seconds used so far: the whole machine (busy and idle, from /proc/stat) and by whom."""
    import psutil

    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = (fields[3] + fields[4]) / tick  # idle + iowait
    snapshot = {"machine_busy": sum(fields[:8]) / tick - idle, "machine_idle": idle}
    owners = {pid: name for name, pid in roots.items()}
    for process in psutil.process_iter(["pid", "ppid", "name"]):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            name = process.info["name"] or ""
            if process.pid in owners or process.info["ppid"] in owners:
                group = owners.get(process.pid) or owners[process.info["ppid"]]
            elif name.startswith("postgres"):
                group = "postgresql"
            elif name.startswith("redis"):
                group = "redis"
            elif process.pid == os.getpid():
                group = "bench"
            else:
                group = "other"
            # A worker's ffmpeg runs are in its children's times once they end.
            used = times.user + times.system + times.children_user + times.children_system
            snapshot[group] = snapshot.get(group, 0.0) + used
    return snapshot


def wait_until_finished(
    conversion: Any, timeout: float, roots: dict[str, int] | None = None
) -> tuple[Any, dict[str, float]]:
    """Poll until ``conversion`` ends; with ``roots``, also the CPU each group used while Parts rendered."""
    from audiobooks.models import Conversion

    deadline = time.monotonic() + timeout
    at_start: dict[str, float] | None = None
    during: dict[str, float] = {}
    while time.monotonic() < deadline:
        conversion.refresh_from_db()
        if roots is not None and at_start is None and conversion.status != Conversion.Status.QUEUED:
            at_start = cpu_snapshot(roots)
        if (
            roots is not None
            and at_start is not None
            and not during
            and conversion.status not in (Conversion.Status.QUEUED, Conversion.Status.SYNTHESIZING)
        ):
            at_end = cpu_snapshot(roots)
            during = {group: round(at_end[group] - at_start.get(group, 0.0), 1) for group in at_end}
        if conversion.status in Conversion.FINISHED:
            return conversion, during
        time.sleep(POLL_EVERY_S)
    raise RuntimeError(f"conversion {conversion.pk} still {conversion.status} after {timeout} s")


def pipeline_run(book: Any, environ: dict[str, str], processes: int, workdir: Path) -> dict[str, Any]:
    from django.db.models import Max, Min, Sum

    clear_render_cache()
    with workers(environ, processes, workdir) as started_roots:
        workers_started = started_roots.pop("_started")
        roots = started_roots
        sampler = Sampler(roots)
        sampler.sample()
        light_cpu_before = sampler.cpu_total("light-worker")
        sampler.start()
        submitted_wall = time.time()
        started = time.monotonic()
        conversion = submit(book)
        conversion, synthesis_cpu = wait_until_finished(conversion, timeout=3 * 3600, roots=roots)
        wall = time.monotonic() - started
        sampler.stopped.set()
        sampler.join()
        sampler.sample()
        light_cpu = sampler.cpu_total("light-worker") - light_cpu_before
    parts = conversion.parts.aggregate(
        audio_ms=Sum("duration_ms"), first=Min("started_at"), last=Max("finished_at")
    )
    synthesis_wall = (parts["last"] - parts["first"]).total_seconds()
    timeline = list(
        conversion.parts.order_by("started_at").values_list("worker", "started_at", "finished_at")
    )
    rendering = [(finished - started).total_seconds() for _, started, finished in timeline]
    audio_s = (conversion.duration_ms or 0) / 1000
    chapters = list(conversion.selections.order_by("position"))
    last_chapter_min = (chapters[-1].duration_ms or 0) / 60_000
    tail = (conversion.finished_at - parts["last"]).total_seconds() if conversion.finished_at else None
    first = conversion.selections.get(position=0)
    first_ready = first.finished_at.timestamp() - submitted_wall if first.finished_at else None
    first_target = (first.duration_ms or 0) / 1000 / 12 + 20
    return {
        "status": conversion.status,
        "synthesis_processes": processes,
        "audio_seconds": round(audio_s, 1),
        "parts": conversion.parts.count(),
        "wall_seconds": round(wall, 1),
        "synthesis_wall_seconds": round(synthesis_wall, 1),
        "synthesis_x_real_time": round(parts["audio_ms"] / 1000 / synthesis_wall, 2),
        "end_to_end_x_real_time": round(audio_s / wall, 2),
        "wall_minus_synthesis_window_seconds": round(wall - synthesis_wall, 1),
        "tail_seconds": round(tail, 1) if tail is not None else None,
        "tail_target_seconds": round(5 + 0.5 * len(chapters) + 0.3 * last_chapter_min, 1),
        "last_chapter_audio_minutes": round(last_chapter_min, 2),
        "longest_chapter_audio_minutes": round(max(c.duration_ms or 0 for c in chapters) / 60_000, 2),
        # from the workers' start (their boot and a ping on each queue), submission, to the first claim
        "startup_to_first_claim_seconds": round(parts["first"].timestamp() - workers_started, 1),
        "submit_to_first_claim_seconds": round(parts["first"].timestamp() - submitted_wall, 1),
        # claim to done, summed over Parts, against processes x the window: the rest is idle or overhead
        "synthesis_processes_busy_fraction": round(sum(rendering) / (processes * synthesis_wall), 3),
        "synthesis_processes_idle_seconds": idle_seconds(timeline, start=parts["first"], end=parts["last"]),
        "peak_rss_mb": {
            name: sorted(round(mb, 1) for mb in peaks.values()) for name, peaks in sampler.peak_mb.items()
        },
        "cpu_seconds_while_synthesizing": synthesis_cpu,
        "light_worker_cpu_seconds": round(light_cpu, 1),
        "mastering_and_encoding_cpu_seconds_per_audio_minute": round(light_cpu / (audio_s / 60), 3),
        "first_chapter": {
            "audio_seconds": round((first.duration_ms or 0) / 1000, 1),
            "playable_after_seconds": round(first_ready, 1) if first_ready is not None else None,
            "target_seconds": round(first_target, 1),
        },
    }


def idle_seconds(timeline: list[tuple[str, Any, Any]], *, start: Any, end: Any) -> dict[str, float]:
    """Where the synthesis processes waited: before their first Part, between Parts, after their last."""
    by_worker: dict[str, list[tuple[Any, Any]]] = {}
    for worker, started, finished in timeline:
        by_worker.setdefault(worker, []).append((started, finished))
    head = between = tail = 0.0
    for spans in by_worker.values():
        head += (spans[0][0] - start).total_seconds()
        tail += (end - spans[-1][1]).total_seconds()
        between += sum((after[0] - before[1]).total_seconds() for before, after in itertools.pairwise(spans))
    return {
        "before_first_part": round(head, 1),
        "between_parts": round(between, 1),
        "after_last_part": round(tail, 1),
    }


# --- manage.py convert, as an operator runs it ----------------------------------------------


def convert_run(
    path: Path, environ: dict[str, str], processes: int, workdir: Path, label: str
) -> dict[str, Any]:
    """``manage.py convert`` on ``path`` with nothing running: it starts its own workers, as on a
    machine where nobody ran ``./dev up``. Timed from the command's start."""
    from django.db.models import Max, Min, Sum

    from audiobooks.models import Conversion

    clear_render_cache()  # every Part renders; a new Book, so no chapter is reused either
    before = Conversion.objects.aggregate(last=Max("id"))["last"] or 0
    out = workdir / f"convert-{label}"
    load = os.getloadavg()[0]
    started = time.time()
    command = subprocess.Popen(
        [sys.executable, "manage.py", "convert", str(path), "--json", "-v", "0", "--out", str(out)],
        cwd=REPO, env={**environ, "SYNTHESIS_PROCESSES": str(processes)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # The light worker (and its pool): ingestion, mastering, both encodings, captions, the M4B.
    sampler = Sampler({"light-worker": command.pid}, match="--queues light", every_s=0.5)
    sampler.start()
    # Sampled at the first claim (after its boot and the ingestion) and when the conversion ends
    # (before the workers stop: a pool process reaped then would count twice, in its parent too).
    light_at: dict[str, float] = {}
    while command.poll() is None:
        status = Conversion.objects.filter(id__gt=before).values_list("status", flat=True).first()
        claimed = (
            status is not None
            and Conversion.objects.filter(id__gt=before, parts__started_at__isnull=False).exists()
        )
        for moment, reached in (("first_claim", claimed), ("finished", status in Conversion.FINISHED)):
            if reached and moment not in light_at:
                sampler.sample()
                light_at[moment] = sampler.cpu_total("light-worker")
        time.sleep(0.2)
    stdout, stderr = command.communicate()
    exited = time.time() - started
    sampler.stopped.set()
    sampler.join()
    if command.returncode != 0:
        raise RuntimeError(f"convert exited {command.returncode}: {stderr.strip()[-2000:]}")
    light_cpu = light_at["finished"] - light_at["first_claim"]
    result = json.loads(stdout)
    m4b_written = Path(result["m4b"]).stat().st_mtime - started
    conversion = Conversion.objects.filter(id__gt=before).get()
    parts = conversion.parts.aggregate(
        audio_ms=Sum("duration_ms"), first=Min("started_at"), last=Max("finished_at")
    )
    window = (parts["last"] - parts["first"]).total_seconds()
    chapters = list(conversion.selections.order_by("position"))
    last_chapter_min = (chapters[-1].duration_ms or 0) / 60_000
    audio_s = (conversion.duration_ms or 0) / 1000
    return {
        "load_average_1m_at_start": round(load, 2),
        "audio_seconds": round(audio_s, 1),
        "startup_to_first_claim_seconds": round(parts["first"].timestamp() - started, 2),
        "synthesis_window_seconds": round(window, 1),
        "synthesis_x_real_time": round(parts["audio_ms"] / 1000 / window, 2),
        "tail_seconds": round((conversion.finished_at - parts["last"]).total_seconds(), 2),
        "tail_target_seconds": round(5 + 0.5 * len(chapters) + 0.3 * last_chapter_min, 1),
        "last_chapter_audio_minutes": round(last_chapter_min, 2),
        "longest_chapter_audio_minutes": round(max(c.duration_ms or 0 for c in chapters) / 60_000, 2),
        # command start to the M4B written in --out; the command then stops the workers it started
        "end_to_end_seconds": round(m4b_written, 1),
        "end_to_end_x_real_time": round(audio_s / m4b_written, 2),
        "wall_minus_synthesis_window_seconds": round(m4b_written - window, 1),
        "command_exited_after_seconds": round(exited, 1),
        "light_queue_cpu_seconds": round(light_cpu, 1),
        "light_queue_cpu_seconds_per_audio_minute": round(light_cpu / (audio_s / 60), 3),
    }


CONVERT_MEDIANS = (
    "startup_to_first_claim_seconds", "tail_seconds", "end_to_end_seconds", "end_to_end_x_real_time",
    "wall_minus_synthesis_window_seconds", "light_queue_cpu_seconds_per_audio_minute",
)  # fmt: skip


def median(values: list[float]) -> float:
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(ordered) % 2 else round((ordered[middle - 1] + ordered[middle]) / 2, 3)


def convert_against_ceiling(
    book: Any,
    *,
    path: Path,
    longest_last_path: Path | None,
    environ: dict[str, str],
    processes: int,
    workdir: Path,
    rounds: int,
) -> dict[str, Any]:
    """``rounds`` side-by-side ceilings interleaved with ``rounds`` convert runs (the machine is
    shared: whatever else runs weighs on both alike), then the longest-chapter-last book once."""
    ceilings, runs = [], []
    for number in range(rounds):
        ceilings.append(baseline_side_by_side(book, workdir, processes))
        runs.append(convert_run(path, environ, processes, workdir, f"{number}"))
    ceiling = median([run["x_real_time"] for run in ceilings])
    report: dict[str, Any] = {
        "ceiling_runs": ceilings,
        "ceiling_x_real_time_median": ceiling,
        "runs": runs,
        "median": {key: median([run[key] for run in runs]) for key in CONVERT_MEDIANS},
    }
    report["end_to_end_against_ceiling"] = round(report["median"]["end_to_end_x_real_time"] / ceiling, 3)
    if longest_last_path is not None:
        longest_last = convert_run(longest_last_path, environ, processes, workdir, "longest-last")
        longest_last["end_to_end_against_ceiling"] = round(
            longest_last["end_to_end_x_real_time"] / ceiling, 3
        )
        report["longest_chapter_last"] = longest_last
    return report


# --- The baseline: one single-thread process, no pipeline ------------------------------------


def baseline_child(spec_path: Path) -> None:
    """Run in a fresh process: render every Part of the spec Part after Part; print the figures."""
    from tts_engine.engines.piper import PiperEngine
    from tts_engine.speech import render_to_wav

    specs = json.loads(spec_path.read_text())
    engine = PiperEngine(intra_op_threads=1)
    with tempfile.TemporaryDirectory() as workdir:
        target = Path(workdir) / "part.wav"
        render_to_wav(target, engine=engine, voice_id=VOICE_ID, text="Loading the model.")  # not timed
        audio_ms, started = 0, time.perf_counter()
        for spec in specs:
            result = render_to_wav(target, engine=engine, voice_id=VOICE_ID, **spec)
            audio_ms += result.duration_ms
        wall = time.perf_counter() - started
    print(json.dumps({"audio_seconds": round(audio_ms / 1000, 1), "wall_seconds": round(wall, 1),
                      "x_real_time": round(audio_ms / 1000 / wall, 2)}))  # fmt: skip


def baseline_specs(book: Any) -> list[dict[str, Any]]:
    from audiobooks.pipeline.parts import chapter_parts

    specs = []
    for chapter in book.chapters.order_by("index"):
        for piece in chapter_parts(text=chapter.text, language=book.language or "en"):
            specs.append({
                "text": piece.text, "title": chapter.title if piece.speaks_title else None,
                "language": book.language or "en", "ends_paragraph": piece.ends_paragraph,
            })  # fmt: skip
    return specs


def baseline(book: Any, workdir: Path) -> dict[str, Any]:
    return baseline_children([baseline_specs(book)], workdir)[0]


def baseline_children(shares: list[list[dict[str, Any]]], workdir: Path) -> list[dict[str, Any]]:
    """Run one baseline child per share of the specs, all at once; their figures, in order."""
    children = []
    for number, share in enumerate(shares):
        spec_path = workdir / f"baseline-{number}.json"
        spec_path.write_text(json.dumps(share))
        children.append(subprocess.Popen(
            [sys.executable, __file__, "--baseline-child", str(spec_path)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
        ))  # fmt: skip
    outputs = [child.communicate()[0] for child in children]
    if any(child.returncode for child in children):
        raise RuntimeError("a baseline child failed")
    return [json.loads(output.strip().splitlines()[-1]) for output in outputs]


def baseline_side_by_side(book: Any, workdir: Path, processes: int) -> dict[str, Any]:
    """The machine's own ceiling: ``processes`` bare baseline processes at once, Parts dealt in turn."""
    specs = baseline_specs(book)
    results = baseline_children([specs[start::processes] for start in range(processes)], workdir)
    audio_s = sum(result["audio_seconds"] for result in results)
    wall = max(result["wall_seconds"] for result in results)
    return {"processes": processes, "audio_seconds": round(audio_s, 1), "wall_seconds": wall,
            "x_real_time": round(audio_s / wall, 2)}  # fmt: skip


# --- Fairness ---------------------------------------------------------------------------------


def fairness(environ: dict[str, str], processes: int, workdir: Path) -> dict[str, Any]:
    from audiobooks.models import Part
    from audiobooks.pipeline.submit import conversion_cancel

    short_path = generated_book(workdir, chapters=3, chapter_chars=1400, seed=7, title="Short story")
    long_path = generated_book(workdir, chapters=20, chapter_chars=9000, seed=8, title="Long book")
    short, long = ready_book(short_path), ready_book(long_path)

    def first_chapter_after_submit() -> tuple[float, float]:
        submitted = time.time()
        conversion = submit(short)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            conversion_chapter = conversion.selections.get(position=0)
            if conversion_chapter.finished_at is not None:
                return conversion_chapter.finished_at.timestamp() - submitted, (
                    conversion_chapter.duration_ms or 0
                ) / 1000
            time.sleep(0.1)
        raise RuntimeError("the short book's first chapter never became playable")

    with workers(environ, processes, workdir):
        clear_render_cache()
        alone, audio_s = first_chapter_after_submit()
        clear_render_cache()
        running = submit(long)
        while Part.objects.filter(conversion=running, status=Part.Status.DONE).count() < processes:
            time.sleep(0.2)
        contended, _ = first_chapter_after_submit()
        conversion_cancel(user=long.owner, conversion_uuid=running.uuid)
    return {
        "short_first_chapter_audio_seconds": round(audio_s, 1),
        "alone_seconds": round(alone, 1),
        "latency_target_seconds": round(audio_s / 12 + 20, 1),
        "behind_a_long_book_seconds": round(contended, 1),
        "fairness_target_seconds": round(2 * alone + 30, 1),
    }


def book_report(args: argparse.Namespace, environ: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Everything but fairness: the ceilings, the convert runs and the pipeline runs of the bench book."""
    report: dict[str, Any] = {}
    path = generated_book(
        workdir, chapters=args.chapters, chapter_chars=args.chapter_chars, seed=1, title="Bench book",
        longest_last=args.longest_last,
    )  # fmt: skip
    book = ready_book(path)
    report["book"] = {
        "chapters": book.chapters.count(),
        "characters": sum(c.chars for c in book.chapters.all()),
    }
    if not args.skip_baseline:
        if not (args.quick or args.convert_only):
            report["baseline"] = baseline(book, workdir)
        if args.skip_convert:
            report["baseline_side_by_side"] = baseline_side_by_side(book, workdir, args.processes)
    if not args.skip_convert and not args.skip_baseline:
        longest_last_path = None
        if not args.longest_last:
            longest_last_path = generated_book(
                workdir, chapters=args.chapters, chapter_chars=args.chapter_chars, seed=1,
                title="Bench book longest last", longest_last=True,
            )  # fmt: skip
        report["convert"] = convert_against_ceiling(
            book, path=path, longest_last_path=longest_last_path, environ=environ,
            processes=args.processes, workdir=workdir, rounds=args.convert_rounds,
        )  # fmt: skip
        ceilings = report["convert"]["ceiling_runs"]
        report["baseline_side_by_side"] = sorted(ceilings, key=lambda run: run["x_real_time"])[
            len(ceilings) // 2
        ]  # the median run
    if args.convert_only:
        return report
    runs = {}
    for processes in ([] if args.skip_single else [1]) + [args.processes]:
        # A Book of its own each run: chapters of an earlier run of the same Book would be reused.
        runs[str(processes)] = pipeline_run(ready_book(path), environ, processes, workdir)
    report["runs"] = runs
    many = runs[str(args.processes)]["synthesis_x_real_time"]
    report["parallel_efficiency"] = {}
    if "1" in runs and args.processes != 1:
        report["parallel_efficiency"]["against_1_worker_process"] = round(
            many / (args.processes * runs["1"]["synthesis_x_real_time"]), 3
        )
    if "baseline" in report:
        report["parallel_efficiency"]["against_baseline"] = round(
            many / (args.processes * report["baseline"]["x_real_time"]), 3
        )
        report["parallel_efficiency"]["bare_processes_side_by_side_against_baseline"] = round(
            report["baseline_side_by_side"]["x_real_time"]
            / (args.processes * report["baseline"]["x_real_time"]),
            3,
        )
    if "baseline_side_by_side" in report:
        ceiling = report["baseline_side_by_side"]["x_real_time"]
        report["end_to_end_against_side_by_side_ceiling"] = round(
            runs[str(args.processes)]["end_to_end_x_real_time"] / ceiling, 3
        )
    report["targets"] = {
        "end_to_end_against_side_by_side_ceiling_at_least": 0.85,
        "tail_seconds_at_most": "5 + 0.5 x chapters + 0.3 x last chapter's audio minutes",
        "startup_to_first_claim_seconds_at_most": 5,
        "convert_startup_to_first_claim_seconds_at_most": 5,
        "synthesis_at_least_0.9_of_processes_x_baseline": 0.9,
        "end_to_end_x_real_time_at_least": 12,
        "mastering_and_encoding_cpu_seconds_per_audio_minute_at_most": 2,
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chapters", type=int, default=12)
    parser.add_argument("--chapter-chars", type=int, default=9000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-single", action="store_true", help="no run with one synthesis process")
    parser.add_argument("--fairness-only", action="store_true")
    parser.add_argument("--skip-fairness", action="store_true")
    parser.add_argument(
        "--longest-last", action="store_true", help="the longest chapter last: the tail's worst"
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="4 chapters of about 3,000 characters: the ceilings and convert runs, one run with N processes",
    )  # fmt: skip
    parser.add_argument(
        "--convert-rounds", type=int, default=3,
        help="side-by-side ceilings, each followed by a manage.py convert run (default 3)",
    )  # fmt: skip
    parser.add_argument("--skip-convert", action="store_true", help="no manage.py convert runs")
    parser.add_argument(
        "--convert-only", action="store_true",
        help="only the ceilings and manage.py convert runs: no single-process baseline, no in-process runs",
    )  # fmt: skip
    parser.add_argument("--baseline-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.chapters, args.chapter_chars = 4, 3000
        args.skip_single = args.skip_fairness = True
    if args.convert_only:
        args.skip_fairness = True
    if args.baseline_child:
        baseline_child(args.baseline_child)
        return

    import logging

    logging.disable(logging.WARNING)
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory(prefix="ebv-bench-") as tmp, bench_environment(Path(tmp)) as environ:
        workdir = Path(tmp)
        if not args.fairness_only:
            report.update(book_report(args, environ, workdir))
        if not args.skip_fairness:
            report["fairness"] = fairness(environ, args.processes, workdir)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
