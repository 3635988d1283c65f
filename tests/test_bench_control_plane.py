"""The control plane keeps 64 slots fed: ``bench/bench_control_plane.py --quick``, run as CI runs it.

The benchmark starts its own PostgreSQL (``max_connections=300``) and Redis,
submits 50 conversions of 1 to 400 chapters, and renders them for 90 s with 64
simulated synthesis slots (Celery worker threads and a silent engine that
takes a real Piper thread's time). It exits 1 when the idle share passes 10 %
or queries per Part pass the full run's figure by more than 20 %; this test
also reads its JSON, so a report that lost a figure fails here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ebookvoice.paths import BASE_DIR

BENCH = BASE_DIR / "bench" / "bench_control_plane.py"
BASELINE = BASE_DIR / "bench" / "control_plane_baseline.json"


@pytest.mark.timeout(900)
def test_quick_control_plane_run_keeps_64_slots_fed() -> None:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PIPELINE_", "SYNTHESIS_PROCESSES", "DJANGO_SETTINGS_MODULE"))
    }
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        timeout=840,
        check=False,
    )
    stderr = completed.stderr.decode(errors="replace")[-4000:]
    assert completed.returncode == 0, stderr
    run = json.loads(completed.stdout)["runs"][0]
    baseline = json.loads(BASELINE.read_text())["64"]["queries_per_part"]

    assert run["slots"] == 64
    assert run["window_seconds"] >= 89
    assert not run["work_ran_dry"], run
    assert run["parts_done_in_window"] > 0
    assert run["idle_share"] <= 0.10, run
    assert run["per_part"]["queries"] <= baseline * 1.2, (run["per_part"], baseline)
    assert run["dispatch_latency"]["sent_to_claimed_seconds"]["count"] > 0
    assert run["dispatcher"]["seconds"]["count"] > 0
    assert run["reaper"]["seconds"]["count"] > 0
