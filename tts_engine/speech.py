"""Speech controls, and rendering a chapter (or a Part of one) to a WAV file.

Rendering streams: text is planned up front (a chapter's text is small), but
audio goes to disk one chunk at a time, so a one-hour chapter needs no more
memory than a sentence. Silence for pauses is generated, not synthesized.

The result carries sentence timings (start and end in milliseconds of each
spoken sentence in the file), from which captions are made.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from tts_engine.chunking import split_chunks, split_paragraphs, split_sentences
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN, Engine, EngineError
from tts_engine.lexicon import Applied, Lexicon
from tts_engine.opening import chapter_opening
from tts_engine.pauses import Pauses, voice_pauses
from tts_engine.text import NORMALISER_VERSION, is_heading, normalise


def validate_speed(speed: float) -> float:
    """The speed as a float, or ValueError with a message fit for a form."""
    speed = float(speed)
    if not SPEED_MIN <= speed <= SPEED_MAX:
        raise ValueError(f"Speed must be between {SPEED_MIN} and {SPEED_MAX}.")
    return speed


@dataclass(frozen=True)
class Utterance:
    """One sentence or heading (or the title) as planned: caption text, spoken chunks, pause."""

    text: str
    chunks: tuple[str, ...]
    pause_ms: int
    is_title: bool = False
    lexical: bool = False
    """A lexicon entry changed what is said: the timings keep the spoken chunks too."""


def _speakable(chunk: str) -> bool:
    return any(char.isalnum() for char in chunk)


def _spoken_chunks(spoken: str, max_chars: int, lexicon: Lexicon | None = None) -> tuple[str, ...]:
    chunks = (chunk for chunk in split_chunks(spoken, max_chars) if _speakable(chunk))
    # Phoneme blocks go in only now, after the normaliser and the cuts (see tts_engine.lexicon).
    return tuple(lexicon.after(chunk) for chunk in chunks) if lexicon else tuple(chunks)


def _say(
    written: str, *, language: str, max_chars: int, lexicon: Lexicon | None, heading: bool = False
) -> tuple[str, tuple[str, ...], bool]:
    """What is said for ``written`` with the lexicon applied, its chunks, and whether an entry changed it."""
    plain = normalise(written, language, heading=heading)
    if not lexicon:
        return plain, _spoken_chunks(plain, max_chars), False
    spoken = normalise(lexicon.before(written), language, heading=heading)
    if spoken == plain:
        return plain, _spoken_chunks(plain, max_chars), False
    return spoken, _spoken_chunks(spoken, max_chars, lexicon), True


def _heading(
    written: str,
    *,
    language: str,
    max_chars: int,
    pause_ms: int,
    is_title: bool = False,
    lexicon: Lexicon | None = None,
) -> list[Utterance]:
    # A heading's caption is what is said ("One", "Chapter forty-two"), so a
    # section number never reads as the pronoun "I" on screen either; with the
    # written words where the lexicon changed them.
    plain = normalise(written, language, heading=True)
    _, chunks, lexical = _say(written, language=language, max_chars=max_chars, lexicon=lexicon, heading=True)
    caption = plain[:1].upper() + plain[1:]
    return [Utterance(caption, chunks, pause_ms, is_title=is_title, lexical=lexical)] if chunks else []


def plan_speech(
    text: str,
    *,
    language: str,
    max_chars: int,
    title: str | None = None,
    pauses: Pauses | None = None,
    ends_paragraph: bool = True,
    lexicon: Lexicon | None = None,
) -> list[Utterance]:
    """Split, normalise and chunk ``text``; the title, if given, comes first.

    ``lexicon`` entries are applied around the normaliser (``tts_engine.lexicon``);
    sentences are still found, and captioned, in the written text.

    Paragraphs are separated by blank lines. When the text opens with the
    chapter's own heading, the title and that heading are one announcement
    (``tts_engine.opening``). A paragraph that heads a section ("II",
    "Chapter XLII") is said as a heading, its numbers as words, and followed
    by the heading pause. A paragraph with nothing to say (a scene break such
    as ``* * *``) lengthens the pause before the next one. When
    ``ends_paragraph`` is False (a Part cut mid-paragraph), the last sentence
    is followed by a sentence pause instead of a paragraph pause.
    """
    pauses = pauses or Pauses()
    paragraphs = split_paragraphs(text)
    plan: list[Utterance] = []
    if title and title.strip():
        opening = chapter_opening(title, paragraphs, language)
        paragraphs = paragraphs[opening.consumed :]
        plan += _heading(
            opening.announcement,
            language=language,
            max_chars=max_chars,
            pause_ms=pauses.title_ms,
            is_title=True,
            lexicon=lexicon,
        )
    for paragraph in paragraphs:
        if is_heading(paragraph, language):
            spoken = _heading(
                paragraph,
                language=language,
                max_chars=max_chars,
                pause_ms=pauses.heading_ms,
                lexicon=lexicon,
            )
        else:
            spoken = [
                Utterance(sentence, said[1], pauses.sentence_ms, lexical=said[2])
                for sentence in split_sentences(paragraph, language)
                if (said := _say(sentence, language=language, max_chars=max_chars, lexicon=lexicon))[1]
            ]
            if spoken:
                spoken[-1] = replace(spoken[-1], pause_ms=pauses.paragraph_ms)
        if spoken:
            plan.extend(spoken)
        elif plan and not plan[-1].is_title:
            plan[-1] = replace(plan[-1], pause_ms=plan[-1].pause_ms + pauses.paragraph_ms)
    if plan and not ends_paragraph and not plan[-1].is_title:
        plan[-1] = replace(plan[-1], pause_ms=pauses.sentence_ms)
    return plan


@dataclass(frozen=True)
class SentenceTiming:
    start_ms: int
    end_ms: int
    text: str
    is_title: bool = False
    spoken: str | None = None
    """What the engine was given, kept only where a lexicon entry changed it."""

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        if self.spoken is None:
            del data["spoken"]  # most sentences: the stored timings stay as they were
        return data


@dataclass(frozen=True)
class RenderResult:
    path: Path
    sample_rate: int
    num_samples: int
    sentences: list[SentenceTiming]

    @property
    def duration_ms(self) -> int:
        return round(self.num_samples * 1000 / self.sample_rate)


def chunk_limit(engine: Engine, speed: float) -> int:
    """The engine's chunk limit, shortened for slow speech.

    An engine's memory grows with the audio of one chunk, and at speed 0.5 the
    same text makes nearly twice the audio; shorter chunks keep the peak flat.
    """
    return max(40, int(engine.max_chunk_chars * min(1.0, speed)))


class RenderStopped(Exception):
    """Raised out of ``render_to_wav`` when its ``should_stop`` said so (a cancelled conversion)."""


def render_key(
    *,
    voice_key: str,
    model_digest: str,
    speed: float,
    text: str,
    title: str | None = None,
    pauses: Pauses | None = None,
    language: str = "en",
    ends_paragraph: bool = True,
    lexicon: Sequence[Applied] = (),
) -> str:
    """A sha256 over everything that changes the rendered audio, for the render cache.

    ``model_digest`` is ``Engine.model_digest``: the voice key names a voice,
    the digest says which weights speak it. Without ``pauses``, the voice's own
    (``tts_engine.pauses.voice_pauses``), as ``render_to_wav`` uses.
    ``lexicon`` is only the entries that touch this text
    (``tts_engine.lexicon.entries_touching``); without any, the key is what it
    was before lexicons existed, so no cached Part is rendered again for them.
    """
    payload = {
        "voice": voice_key,
        "model": model_digest,
        "speed": round(float(speed), 3),
        "text": text,
        "title": title or "",
        "pauses": asdict(pauses or voice_pauses(voice_key)),
        "language": language,
        "ends_paragraph": ends_paragraph,
        "normaliser": NORMALISER_VERSION,
    }
    if lexicon:
        payload["lexicon"] = [entry.as_dict() for entry in lexicon]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def render_to_wav(
    path: str | os.PathLike[str],
    *,
    engine: Engine,
    voice_id: str,
    text: str,
    title: str | None = None,
    speed: float = 1.0,
    pauses: Pauses | None = None,
    language: str | None = None,
    ends_paragraph: bool = True,
    should_stop: Callable[[], bool] | None = None,
    lexicon: Sequence[Applied] = (),
) -> RenderResult:
    """Speak ``title`` then ``text`` into a mono 16-bit WAV file at ``path``.

    ``should_stop`` is asked before each chunk; when it answers True the
    render ends with ``RenderStopped`` and leaves no file.

    ``language`` is the text's language (it picks the normaliser and sentence
    splitter) and defaults to the voice's; ``pauses`` default to the voice's.
    The file appears at ``path`` only when complete: a killed worker leaves no
    half-written file for the render cache to trust. Raises ``EngineError``
    and ``ValueError`` (bad speed or pauses).
    """
    speed = validate_speed(speed)
    voice = engine.voice(voice_id)
    plan = plan_speech(
        text,
        language=language or voice.language,
        max_chars=chunk_limit(engine, speed),
        title=title,
        pauses=pauses or voice_pauses(voice.key),
        ends_paragraph=ends_paragraph,
        lexicon=Lexicon(lexicon) if lexicon else None,
    )
    target = Path(path)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        with wave.open(str(partial), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(voice.sample_rate)
            sentences, num_samples = _stream(
                wav,
                plan=plan,
                engine=engine,
                voice_id=voice_id,
                speed=speed,
                rate=voice.sample_rate,
                should_stop=should_stop,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return RenderResult(
        path=target, sample_rate=voice.sample_rate, num_samples=num_samples, sentences=sentences
    )


def _stream(
    wav: wave.Wave_write,
    *,
    plan: list[Utterance],
    engine: Engine,
    voice_id: str,
    speed: float,
    rate: int,
    should_stop: Callable[[], bool] | None,
) -> tuple[list[SentenceTiming], int]:
    def chunks() -> Iterator[str]:
        for utterance in plan:
            for chunk in utterance.chunks:
                if should_stop is not None and should_stop():
                    raise RenderStopped()
                yield chunk

    audio = engine.synthesize(chunks(), voice_id=voice_id, speed=speed)
    silences: dict[int, bytes] = {}
    timings: list[SentenceTiming] = []
    samples = 0
    for utterance in plan:
        start = samples
        for _ in utterance.chunks:
            pcm = next(audio, None)
            if pcm is None:
                raise EngineError(
                    f"{engine.name} returned fewer audio chunks than it was given", retryable=False
                )
            wav.writeframes(np.ascontiguousarray(pcm, dtype=np.int16).tobytes())
            samples += len(pcm)
        timings.append(_timing(start, samples, rate, utterance))
        gap = round(utterance.pause_ms * rate / 1000)
        if gap:
            if gap not in silences:
                silences[gap] = bytes(2 * gap)
            wav.writeframes(silences[gap])
            samples += gap
    return timings, samples


def _timing(start: int, end: int, rate: int, utterance: Utterance) -> SentenceTiming:
    return SentenceTiming(
        start_ms=round(start * 1000 / rate),
        end_ms=round(end * 1000 / rate),
        text=utterance.text,
        is_title=utterance.is_title,
        spoken=" ".join(utterance.chunks) if utterance.lexical else None,
    )
