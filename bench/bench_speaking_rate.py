"""Measure a voice's speaking rate: characters of book text per second of audio. Prints one JSON object.

    python bench/bench_speaking_rate.py                          # joe, about 6,000 characters
    python bench/bench_speaking_rate.py --voice piper:en_US-joe-medium --chars 20000

It reads real prose (the body chapters of ``tests/corpus/good/sherlock-holmes.epub``
by default) with the ingestion the site uses, renders at least ``--chars``
characters of it, a chapter at a time from the start of each, through
``render_to_wav`` exactly as a Part is rendered (title, pauses, normalisation),
and divides the characters by the seconds of audio. The figure goes in
``tts_engine/speaking_rate.py``, which turns a balance into hours and minutes.

This is a benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="piper:en_US-joe-medium")
    parser.add_argument("--book", default=str(REPO / "tests/corpus/good/sherlock-holmes.epub"))
    parser.add_argument("--chars", type=int, default=6000, help="at least this many characters of text")
    parser.add_argument("--per-chapter", type=int, default=2000, help="characters taken from each chapter")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ebookvoice.settings.base")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import django

    django.setup()

    from audiobooks.ingest import ingest_file
    from tts_engine.registry import get_engine, split_voice_key
    from tts_engine.speaking_rate import MEASURED_CHARS_PER_SECOND, UNMEASURED_CHARS_PER_SECOND
    from tts_engine.speech import render_to_wav

    engine_name, voice_id = split_voice_key(args.voice)
    engine = get_engine(engine_name)
    book = ingest_file(Path(args.book))
    samples: list[tuple[str, str]] = []
    total = 0
    for chapter in book.chapters:
        if not chapter.included or total >= args.chars:
            continue
        text = chapter.text[: args.per_chapter]
        cut = text.rfind(". ")  # end on a sentence
        text = text[: cut + 1] if cut > 0 else text
        samples.append((chapter.title, text))
        total += len(text)

    characters = 0
    audio_ms = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for number, (title, text) in enumerate(samples):
            result = render_to_wav(
                Path(folder) / f"{number}.wav", engine=engine, voice_id=voice_id, text=text, title=title
            )
            characters += len(text)
            audio_ms += result.duration_ms
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "voice": args.voice,
                "book": Path(args.book).name,
                "chapters": len(samples),
                "characters": characters,
                "audio_seconds": round(audio_ms / 1000, 1),
                "chars_per_second": round(characters / (audio_ms / 1000), 2),
                "recorded_chars_per_second": MEASURED_CHARS_PER_SECOND.get(
                    args.voice, UNMEASURED_CHARS_PER_SECOND
                ),
                "wall_seconds": round(wall, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
