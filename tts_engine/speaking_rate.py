"""How fast each voice speaks: characters of book text per second of audio, at speed 1.0.

A credit buys characters (``credits.pricing``); what a reader wants to know is
how much listening that is. Each figure here was measured by
``bench/bench_speaking_rate.py``, which renders real prose from the test corpus
with the voice and divides the characters by the seconds of audio (the
opening's pauses included, as a listener hears them). A voice not measured yet
is assumed to speak ``UNMEASURED_CHARS_PER_SECOND``, slower than any measured
so far, so the hours a balance is said to buy are never overstated.
"""

from __future__ import annotations

# voice key → characters per second at speed 1.0; see the module docstring.
MEASURED_CHARS_PER_SECOND: dict[str, float] = {
    # bench/bench_speaking_rate.py --chars 20000 --per-chapter 3000 on tests/corpus/good/sherlock-holmes.epub:
    # 20,390 characters from 7 chapters made 1,184.3 s of audio (17.22 characters a second).
    "piper:en_US-joe-medium": 17.2,
}

UNMEASURED_CHARS_PER_SECOND = 15.0


def chars_per_second(voice_key: str, *, speed: float = 1.0) -> float:
    """The voice's measured rate (or the cautious default), scaled by the chosen speed."""
    rate = MEASURED_CHARS_PER_SECOND.get(voice_key, UNMEASURED_CHARS_PER_SECOND)
    return rate * (speed if speed > 0 else 1.0)


def audio_seconds_for(characters: int, *, voice_key: str, speed: float = 1.0) -> int:
    """About how many seconds of audio ``characters`` of text make in this voice."""
    return int(max(0, characters) / chars_per_second(voice_key, speed=speed))
