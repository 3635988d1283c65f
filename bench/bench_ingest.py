"""Ingestion benchmark: Sherlock Holmes speed, and peak memory on every hostile file.

    python bench/bench_ingest.py [--runs N]

Prints one JSON object. Each memory figure comes from a fresh Python process that
imports the ingestion code, ingests one file and reports its own peak RSS
(VmHWM, which belongs to the process's own memory map; ru_maxrss would carry the
parent's peak across fork and exec), so files cannot inherit each other's peaks.
`baseline_rss_mb` is the same process importing everything and ingesting nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from ebookvoice.paths import corpus_dir  # noqa: E402

CORPUS = corpus_dir()
SHERLOCK = CORPUS / "good" / "sherlock-holmes.epub"
MEMORY_LIMIT_MB = 512
SHERLOCK_LIMIT_S = 5.0

# Run in a fresh interpreter per file. An empty path measures the import floor.
# "streamed" lifts the header checks so the zip bomb is really inflated (in chunks)
# until the running cap on real bytes stops it: what a bomb with lying headers meets.
CHILD = """
import json, sys, time
from pathlib import Path
import audiobooks.ingest.epub, audiobooks.ingest.pdf, audiobooks.ingest.text, audiobooks.ingest.html
from audiobooks.ingest import IngestError, ingest_file, safety
if len(sys.argv) > 2 and sys.argv[2] == "streamed":
    safety.MAX_RATIO, safety.MAX_ENTRY_BYTES = 10**9, 2**40
outcome, started = "none", time.perf_counter()
if sys.argv[1]:
    try:
        book = ingest_file(Path(sys.argv[1]))
        outcome = f"accepted ({book.words} words)"
    except IngestError as error:
        outcome = f"refused: {error.code.value}"
status = Path("/proc/self/status").read_text()
hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({
    "outcome": outcome,
    "seconds": round(time.perf_counter() - started, 3),
    "peak_rss_mb": round(hwm_kb / 1024, 1),
}))
"""


def measure(path: Path | None, *mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path or ""), *mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=120,
    )
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def time_sherlock(runs: int) -> list[float]:
    sys.path.insert(0, str(REPO))
    from audiobooks.ingest import ingest_file

    ingest_file(SHERLOCK)  # warm-up: imports, lxml's first parser
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        ingest_file(SHERLOCK)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    timings = time_sherlock(args.runs)
    sherlock_cold = measure(SHERLOCK)
    baseline = measure(None)
    files = {f"{path.parent.name}/{path.name}": measure(path) for path in sorted(CORPUS.glob("bad/*.epub"))}
    bomb = CORPUS / "bad" / "probe_ratio_1000_chapter_300MB.epub"
    streamed = measure(bomb, "streamed")
    peaks = [float(str(report["peak_rss_mb"])) for report in [*files.values(), streamed]]
    median = statistics.median(timings)
    print(
        json.dumps(
            {
                "sherlock_seconds_median": round(median, 3),
                "sherlock_seconds_runs": [round(t, 3) for t in timings],
                "sherlock_fresh_process": sherlock_cold,
                "baseline_rss_mb": baseline["peak_rss_mb"],
                "bad_files": files,
                "zip_bomb_inflated_past_header_checks": streamed,
                "max_bad_file_rss_mb": max(peaks),
                "limits": {"sherlock_seconds": SHERLOCK_LIMIT_S, "rss_mb": MEMORY_LIMIT_MB},
                "within_limits": median < SHERLOCK_LIMIT_S
                and max(peaks) < MEMORY_LIMIT_MB
                and float(str(sherlock_cold["peak_rss_mb"])) < MEMORY_LIMIT_MB,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
