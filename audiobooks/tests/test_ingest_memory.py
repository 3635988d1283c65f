"""Hostile files stay far inside the 512 MB budget, measured in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ebookvoice.paths import BASE_DIR as REPO
from ebookvoice.paths import corpus_dir

CORPUS = corpus_dir()

BUDGET_MB = 512
CHILD = """
import json, sys
from pathlib import Path
from audiobooks.ingest import IngestError, ingest_file, safety
if sys.argv[2] == "streamed":
    # Lift the header checks: the bomb is really inflated, and only the running caps on
    # bytes actually read can stop it.
    safety.MAX_RATIO, safety.MAX_ENTRY_BYTES = 10**9, 2**40
try:
    ingest_file(Path(sys.argv[1]))
    code = None
except IngestError as error:
    code = error.code.value
# VmHWM belongs to this process's own memory map. ru_maxrss would not do: Linux
# carries it across fork and exec, so it would report the test runner's peak.
status = Path("/proc/self/status").read_text()
hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "mb": hwm_kb / 1024}))
"""


def peak(path: Path, mode: str = "plain") -> tuple[str | None, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=120,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], report["mb"]


@pytest.mark.parametrize(
    "name",
    [
        "probe_ratio_1000_chapter_300MB.epub",
        "probe_billion_laughs_chapter.epub",
        "probe_billion_laughs_opf.epub",
    ],
)
def test_bombs_are_refused_with_bounded_memory(name: str) -> None:
    code, megabytes = peak(CORPUS / "bad" / name)
    assert code in {"zip_bomb", "entity_declaration"}
    assert megabytes < BUDGET_MB / 4


def test_a_bomb_past_the_header_checks_is_inflated_in_chunks_under_a_cap() -> None:
    code, megabytes = peak(CORPUS / "bad" / "probe_ratio_1000_chapter_300MB.epub", "streamed")
    assert code == "too_large"  # the cap on one content document, counted on the real bytes inflated
    assert megabytes < BUDGET_MB / 4
