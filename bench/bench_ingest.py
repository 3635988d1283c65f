"""Ingestion benchmark: Sherlock Holmes speed, peak memory on every hostile file, and
peak memory and seconds per MB on large books of every format.

    python bench/bench_ingest.py [--runs N] [--skip-large] [--workdir DIR]

Prints one JSON object. Each memory figure comes from a fresh Python process that
imports the ingestion code, ingests one file and reports its own peak RSS
(VmHWM, which belongs to the process's own memory map; ru_maxrss would carry the
parent's peak across fork and exec), so files cannot inherit each other's peaks.
`baseline_rss_mb` is the same process importing everything and ingesting nothing.

The large books are made here, in a temporary folder (about 1 GB of disk): a 200 MB
text file and a 200 MB HTML page without chapter headings or with them, an EPUB
whose spine is 150 MB of text (in 150 documents, and in one), and a printed-book
PDF. Each is read the way the app stores a book, through `open_book`, one chapter at
a time; `seconds_per_mb` is per MB of the file (of its text, for the EPUBs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from ebookvoice.paths import corpus_dir  # noqa: E402

CORPUS = corpus_dir()
SHERLOCK = CORPUS / "good" / "sherlock-holmes.epub"
MEMORY_LIMIT_MB = 512
LARGE_MEMORY_LIMIT_MB = 400
SHERLOCK_LIMIT_S = 5.0
MiB = 1024 * 1024

# Run in a fresh interpreter per file. An empty path measures the import floor.
# "streamed" lifts the header checks so the zip bomb is really inflated (in chunks)
# until the running cap on real bytes stops it: what a bomb with lying headers meets.
CHILD = """
import json, sys, time
from pathlib import Path
import audiobooks.ingest.epub, audiobooks.ingest.pdf, audiobooks.ingest.text, audiobooks.ingest.html
from audiobooks.ingest import IngestError, open_book, safety
if len(sys.argv) > 2 and sys.argv[2] == "streamed":
    safety.MAX_RATIO, safety.MAX_ENTRY_BYTES = 10**9, 2**40
outcome, started, chapters = "none", time.perf_counter(), 0
if sys.argv[1]:
    try:
        words = 0
        with open_book(Path(sys.argv[1])) as book:
            for chapter in book.chapters:
                chapters += 1
                words += chapter.words
        outcome = f"accepted ({words} words)"
    except IngestError as error:
        outcome = f"refused: {error.code.value}"
status = Path("/proc/self/status").read_text()
hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
print(json.dumps({
    "outcome": outcome,
    "chapters": chapters,
    "seconds": round(time.perf_counter() - started, 3),
    "peak_rss_mb": round(hwm_kb / 1024, 1),
}))
"""


def measure(path: Path | None, *mode: str, timeout: int = 120) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path or ""), *mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=timeout,
    )
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def time_sherlock(runs: int) -> list[float]:
    from audiobooks.ingest import ingest_file

    ingest_file(SHERLOCK)  # warm-up: imports, lxml's first parser
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        ingest_file(SHERLOCK)
        timings.append(time.perf_counter() - started)
    return timings


# --- Large books ------------------------------------------------------------------------------


def make_large_books(folder: Path) -> dict[str, tuple[Path, float]]:
    """name -> (file, MB it is measured by)."""
    from audiobooks.tests.prose_fixtures import printed_book, prose_block, source, write_prose

    block, _ = prose_block(1, MiB)
    paragraphs = [f"<p>{paragraph}</p>\n" for paragraph in block.split("\n\n") if paragraph]
    books: dict[str, tuple[Path, float]] = {}

    text = folder / "headingless.txt"
    write_prose(text, 200)
    books["text_200mb_headingless"] = (text, text.stat().st_size / MiB)

    page = folder / "chapters.html"
    with page.open("w") as handle:
        handle.write("<!DOCTYPE html><html><head><title>Big Book | A Site</title></head><body>")
        handle.write("<header><nav><a href='/'>Home</a></nav></header><main><h1>Big Book</h1>")
        for number in range(200 * MiB // len(block) * 10):
            handle.write(f"<h2>Chapter {number + 1}</h2>")
            handle.write("".join(paragraphs[number % 10 :: 10]))
        handle.write("</main><footer>About</footer></body></html>")
    books["html_200mb_chapters"] = (page, page.stat().st_size / MiB)

    for name, documents in (("epub_150mb_spine_150_documents", 150), ("epub_150mb_spine_1_document", 1)):
        epub = folder / f"{name}.epub"
        books[name] = (epub, _write_epub(epub, paragraphs, documents, 150) / MiB)

    pdf = folder / "printed.pdf"
    pdf.write_bytes(printed_book(source(sizes=[60] * 250), outline=True, even_head="THE BOOK"))
    books["pdf_printed_book"] = (pdf, pdf.stat().st_size / MiB)
    return books


def _write_epub(path: Path, paragraphs: list[str], documents: int, megabytes: int) -> int:
    """An EPUB of `documents` chapters holding `megabytes` MB of text; returns the text's size."""
    from audiobooks.tests.ingest_fixtures import EpubSpec, nav_list

    names = [f"c{number}.xhtml" for number in range(documents)]
    members = {f"OEBPS/{name}" for name in names}
    spec = EpubSpec(
        documents=[(name, "") for name in names],
        nav=nav_list([(f"Chapter {number + 1}", name) for number, name in enumerate(names)]),
    )
    per_document = megabytes * MiB // documents
    text_bytes = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for member, data in spec.files().items():
            if member not in members:
                archive.writestr(member, data)
                continue
            with archive.open(member, "w", force_zip64=True) as handle:
                handle.write(
                    b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>c</title></head><body>'
                )
                written = 0
                for index in itertools.count():
                    paragraph = paragraphs[index % len(paragraphs)].encode()
                    handle.write(paragraph)
                    written += len(paragraph) - len(b"<p></p>\n")
                    if written >= per_document:
                        break
                handle.write(b"</body></html>")
                text_bytes += written
    return text_bytes


def measure_large(folder: Path) -> dict[str, dict[str, object]]:
    reports: dict[str, dict[str, object]] = {}
    for name, (path, megabytes) in make_large_books(folder).items():
        report = measure(path, timeout=900)
        report["megabytes"] = round(megabytes, 1)
        report["seconds_per_mb"] = round(float(str(report["seconds"])) / megabytes, 3)
        reports[name] = report
        path.unlink()
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-large", action="store_true", help="leave out the large books")
    parser.add_argument("--workdir", type=Path, default=None, help="where to make the large books")
    args = parser.parse_args()

    timings = time_sherlock(args.runs)
    sherlock_cold = measure(SHERLOCK)
    baseline = measure(None)
    files = {f"{path.parent.name}/{path.name}": measure(path) for path in sorted(CORPUS.glob("bad/*.epub"))}
    bomb = CORPUS / "bad" / "probe_ratio_1000_chapter_300MB.epub"
    streamed = measure(bomb, "streamed")
    peaks = [float(str(report["peak_rss_mb"])) for report in [*files.values(), streamed]]
    median = statistics.median(timings)
    large: dict[str, dict[str, object]] = {}
    if not args.skip_large:
        with tempfile.TemporaryDirectory(prefix="ebv-bench-", dir=args.workdir) as folder:
            large = measure_large(Path(folder))
    large_peaks = [float(str(report["peak_rss_mb"])) for report in large.values()]
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
                "large_books": large,
                "limits": {
                    "sherlock_seconds": SHERLOCK_LIMIT_S,
                    "rss_mb": MEMORY_LIMIT_MB,
                    "large_book_rss_mb": LARGE_MEMORY_LIMIT_MB,
                },
                "within_limits": median < SHERLOCK_LIMIT_S
                and max(peaks) < MEMORY_LIMIT_MB
                and float(str(sherlock_cold["peak_rss_mb"])) < MEMORY_LIMIT_MB
                and all(peak < LARGE_MEMORY_LIMIT_MB for peak in large_peaks),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
