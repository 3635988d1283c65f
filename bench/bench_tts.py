"""Benchmark Piper synthesis: speed, memory and scaling. Prints one JSON object.

    python bench/bench_tts.py                       # about four minutes on 2 cores
    python bench/bench_tts.py --chapter-minutes 60  # the full one-hour chapter

Each measurement runs in a fresh child process, so one cannot warm or bloat
another:

- x_real_time: seconds of audio per second of wall time, one process with one
  onnxruntime thread (the worker configuration), over a few minutes of prose.
- chapter_rss: a process that sets up Django (ebookvoice.settings.base) and
  renders a long chapter to a WAV file through ``render_to_wav``, sampling its
  resident memory; the RSS at each tenth of the run shows whether it plateaus.
- throughput: the same work done by 1 process, by 2 single-thread processes at
  once, by 1 process whose session has 2 intra-op threads, and by 1 process
  running 2 Python threads over one single-thread session.

This is a benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VOICE_ID = "en_US-joe-medium"

# Original prose in the manner of a nineteenth-century novel, with the numbers,
# abbreviations and dialogue real books have. Repeated to any length.
PARAGRAPHS = [
    "The road to Hollowmere ran for nine miles between hedges of hawthorn and elder, and in the "
    "spring of 1847 it was so deep in mud that the carrier's cart took the better part of a day to "
    "cover it. Mr. Ashby, who had walked it twice a week for thirty years, said that he could tell "
    "the season by the colour of his boots.",
    "Nobody in the village remembered a time before the mill. It stood where the river narrowed, "
    "three storeys of grey stone with a wheel as tall as a church door, and on still evenings its "
    "rumble could be heard from the top of Beacon Hill. The miller's daughter, Eliza, kept the "
    "accounts, and kept them better than her father ever had.",
    '"You will not find a fairer price between here and Oxford," she told the Reverend Dr. Hale, '
    'who had come to complain about the cost of flour. "Eleven shillings the sack, and I have '
    'seen it sold for fourteen at the Michaelmas fair." The vicar, who had no answer to this, '
    "admired the view from the window instead.",
    "It was on the 3rd of October that the letter arrived. It was addressed in a hand nobody "
    "knew, sealed with red wax, and it had travelled, by the marks upon it, through London, "
    "Bristol and a town whose name had been smudged beyond reading. Eliza turned it over twice "
    "before she opened it, as if the back of it might tell her something the front would not.",
    "Inside was a single sheet. Her uncle, of whom she had heard perhaps four times in her life, "
    "was dead; he had left her a house in St. Ives, a share in a fishing boat, and the sum of "
    "£250, to be paid on the first day of the new year. She read it three times, folded it "
    "carefully, and went out to feed the hens, because the hens, at least, had not changed.",
    "That winter was the hardest anyone could recall. The river froze at the weir for the first "
    "time since 1814, and the wheel stood silent for six weeks. Men came from the farms with "
    "sledges to buy what flour was left, and Eliza sold it to them at the old price, though she "
    "knew she might have asked double and been paid without a murmur.",
]
WORDS_PER_MINUTE = 200  # Piper's joe voice at speed 1.0 on this prose, to size the text


def prose(minutes: float) -> str:
    words_wanted = int(minutes * WORDS_PER_MINUTE)
    paragraphs: list[str] = []
    words = 0
    while words < words_wanted:
        paragraph = PARAGRAPHS[len(paragraphs) % len(PARAGRAPHS)]
        paragraphs.append(paragraph)
        words += len(paragraph.split())
    return "\n\n".join(paragraphs)


def _chunks(minutes: float, max_chars: int) -> list[str]:
    """The prose as the renderer would hand it to the engine."""
    from tts_engine.speech import plan_speech

    plan = plan_speech(prose(minutes), language="en", max_chars=max_chars)
    return [chunk for utterance in plan for chunk in utterance.chunks]


def _proc_status_mb(field: str) -> float:
    """A size line of /proc/self/status (``VmRSS`` now, ``VmHWM`` the peak), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    return _proc_status_mb("VmRSS")


def _peak_rss_mb() -> float:
    return _proc_status_mb("VmHWM")


# ------------------------------------------------------------------ children


def child_synthesize(minutes: float, intra_op_threads: int, python_threads: int) -> dict[str, Any]:
    """Synthesize ``minutes`` of prose per Python thread; report audio and wall time."""
    from tts_engine.engines.piper import PiperEngine

    engine = PiperEngine(voices_dir=None, device="cpu", intra_op_threads=intra_op_threads)
    chunks = _chunks(minutes, engine.max_chunk_chars)
    list(engine.synthesize(["Warming up."], voice_id=VOICE_ID))  # load the session first
    samples = [0] * python_threads
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for pcm in engine.synthesize(chunks, voice_id=VOICE_ID):
                samples[index] += len(pcm)
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(python_threads)]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if errors:
        raise errors[0]
    audio = sum(samples) / engine.voice(VOICE_ID).sample_rate
    return {"audio_s": round(audio, 2), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "start": wall0}


def child_chapter(minutes: float) -> dict[str, Any]:
    """Set up Django, render a long chapter to disk, and sample RSS throughout."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ebookvoice.settings.base")
    rss_start = _rss_mb()
    import django

    django.setup()
    rss_django = _rss_mb()

    from tts_engine.registry import get_engine
    from tts_engine.speech import render_to_wav

    text = prose(minutes)
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append((time.perf_counter(), _rss_mb()))

    sampler = threading.Thread(target=sample, daemon=True)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        sampler.start()
        result = render_to_wav(
            Path(folder) / "chapter.wav",
            engine=get_engine("piper"),
            voice_id=VOICE_ID,
            text=text,
            title="Chapter I",
        )
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        file_mb = result.path.stat().st_size / 2**20
    by_tenth = {}
    for tenth in range(1, 11):
        moment = start + wall * tenth / 10
        before = [rss for at, rss in samples if at <= moment]
        by_tenth[f"{tenth * 10}%"] = round(before[-1], 1) if before else None
    return {
        "django_settings": os.environ["DJANGO_SETTINGS_MODULE"],
        "audio_minutes": round(result.duration_ms / 60000, 2),
        "sentences": len(result.sentences),
        "wall_s": round(wall, 1),
        "x_real_time": round(result.duration_ms / 1000 / wall, 2),
        "wav_mb": round(file_mb, 1),
        "rss_mb_at_start": round(rss_start, 1),
        "rss_mb_after_django_setup": round(rss_django, 1),
        "rss_mb_by_progress": by_tenth,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


# ------------------------------------------------------------------- parent


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, __file__, "--child", *args], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )


def _collect(*processes: subprocess.Popen[str]) -> list[dict[str, Any]]:
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"benchmark child failed with exit code {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _rate(results: list[dict[str, Any]]) -> dict[str, Any]:
    audio = sum(r["audio_s"] for r in results)
    # Children load their models at different moments; measure from the first
    # synthesis start to the last finish.
    wall = max(r["start"] + r["wall_s"] for r in results) - min(r["start"] for r in results)
    return {"audio_s": round(audio, 1), "wall_s": round(wall, 2), "audio_s_per_s": round(audio / wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--xrt-minutes", type=float, default=3.0, help="prose for the x-real-time run (default 3)"
    )
    parser.add_argument(
        "--chapter-minutes",
        type=float,
        default=20.0,
        help="length of the RSS chapter (default 20; the target is 60)",
    )
    parser.add_argument(
        "--scaling-minutes", type=float, default=1.5, help="prose per worker in the scaling runs"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        role, *rest = args.child
        if role == "synth":
            result = child_synthesize(float(rest[0]), int(rest[1]), int(rest[2]))
        else:
            result = child_chapter(float(rest[0]))
        print(json.dumps(result))
        return

    import onnxruntime

    minutes = str(args.scaling_minutes)
    (single,) = _collect(_spawn("synth", str(args.xrt_minutes), "1", "1"))
    one = _rate(_collect(_spawn("synth", minutes, "1", "1")))
    two_processes = _rate(_collect(_spawn("synth", minutes, "1", "1"), _spawn("synth", minutes, "1", "1")))
    intra_two = _rate(_collect(_spawn("synth", str(2 * args.scaling_minutes), "2", "1")))
    threads_two = _rate(_collect(_spawn("synth", minutes, "1", "2")))
    (chapter,) = _collect(_spawn("chapter", str(args.chapter_minutes)))

    def versus(result: dict[str, Any]) -> dict[str, Any]:
        return {**result, "vs_one_process": round(result["audio_s_per_s"] / one["audio_s_per_s"], 2)}

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "voice": f"piper:{VOICE_ID}",
            # Other work on the machine skews every figure; this shows how much.
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "x_real_time_one_thread": {
            "audio_s": single["audio_s"],
            "wall_s": single["wall_s"],
            "x_real_time": round(single["audio_s"] / single["wall_s"], 2),
            "target": 7.0,
        },
        "chapter_rss": {**chapter, "chapter_minutes_requested": args.chapter_minutes, "target_mb": 400},
        "throughput": {
            "one_process_one_thread": one,
            "two_processes_one_thread_each": versus(two_processes),
            "one_process_two_intra_op_threads": versus(intra_two),
            "one_process_two_python_threads": versus(threads_two),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
