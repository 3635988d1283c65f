from __future__ import annotations

import wave
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tts_engine.engines.base import PCM, Engine, EngineError, Voice
from tts_engine.engines.piper import PiperEngine
from tts_engine.registry import get_engine
from tts_engine.speech import Pauses, chunk_limit, plan_speech, render_key, render_to_wav, validate_speed

JOE = "en_US-joe-medium"
RATE = 22050


class Recording(Engine):
    """The real Piper engine, with a record of what it was given and returned."""

    name = PiperEngine.name
    max_chunk_chars = PiperEngine.max_chunk_chars

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.chunks: list[str] = []
        self.lengths: list[int] = []

    def voices(self) -> list[Voice]:
        return self.engine.voices()

    def model_files(self, voice_id: str) -> list[Path]:
        return self.engine.model_files(voice_id)

    def synthesize(self, chunks: Iterable[str], *, voice_id: str, speed: float = 1.0) -> Iterator[PCM]:
        def seen() -> Iterator[str]:
            for chunk in chunks:
                self.chunks.append(chunk)
                yield chunk

        for pcm in self.engine.synthesize(seen(), voice_id=voice_id, speed=speed):
            self.lengths.append(len(pcm))
            yield pcm


@pytest.fixture
def piper() -> Recording:
    return Recording(get_engine("piper"))


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def _ms(samples: int) -> int:
    return round(samples * 1000 / RATE)


def test_a_chapter_renders_title_first_then_sentences_with_exact_pauses(tmp_path, piper):
    pauses = Pauses(sentence_ms=250, paragraph_ms=700, title_ms=1200)
    text = "Mr. Smith paid $5 for it. He was happy.\n\nThe next day, it rained."
    result = render_to_wav(
        tmp_path / "chapter.wav", engine=piper, voice_id=JOE, text=text, title="Chapter IV", pauses=pauses
    )

    assert piper.chunks == [
        "Chapter four",
        "Mister Smith paid five dollars for it.",
        "He was happy.",
        "The next day, it rained.",
    ]
    spoken = sum(piper.lengths)
    silence = round(1.2 * RATE) + round(0.25 * RATE) + 2 * round(0.7 * RATE)
    assert result.num_samples == spoken + silence
    assert len(_samples(result.path)) == result.num_samples

    title, first, second, third = result.sentences
    assert (title.text, title.is_title, title.start_ms) == ("Chapter four", True, 0)  # as it is said
    assert first.text == "Mr. Smith paid $5 for it."
    assert first.start_ms - title.end_ms == pytest.approx(1200, abs=1)
    assert second.start_ms - first.end_ms == pytest.approx(250, abs=1)
    assert third.start_ms - second.end_ms == pytest.approx(700, abs=1)
    assert result.duration_ms - third.end_ms == pytest.approx(700, abs=1)
    assert third.end_ms - third.start_ms == pytest.approx(_ms(piper.lengths[3]), abs=1)


def test_pause_gaps_in_the_file_are_digital_silence(tmp_path, piper):
    result = render_to_wav(
        tmp_path / "a.wav", engine=piper, voice_id=JOE, text="One. Two.", pauses=Pauses(sentence_ms=500)
    )
    gap_start = piper.lengths[0]
    samples = _samples(result.path)
    assert not samples[gap_start : gap_start + round(0.5 * RATE)].any()
    assert np.abs(samples[: piper.lengths[0]].astype(np.int32)).max() > 1000


def test_zero_pauses_add_no_samples(tmp_path, piper):
    result = render_to_wav(
        tmp_path / "a.wav", engine=piper, voice_id=JOE, text="One. Two.\n\nThree.", title="Title",
        pauses=Pauses(sentence_ms=0, paragraph_ms=0, heading_ms=0, title_ms=0),
    )  # fmt: skip
    assert result.num_samples == sum(piper.lengths)


def test_speed_two_renders_a_shorter_file_than_speed_one(tmp_path):
    engine = get_engine("piper")
    text = "It was a bright cold day in April, and the clocks were striking thirteen."
    normal = render_to_wav(tmp_path / "1.wav", engine=engine, voice_id=JOE, text=text, speed=1.0)
    fast = render_to_wav(tmp_path / "2.wav", engine=engine, voice_id=JOE, text=text, speed=2.0)
    assert fast.num_samples < 0.8 * normal.num_samples


def test_a_part_that_ends_mid_paragraph_ends_with_a_sentence_pause():
    plan = plan_speech("One. Two.", language="en", max_chars=400, pauses=Pauses(), ends_paragraph=False)
    assert [u.pause_ms for u in plan] == [300, 300]


def test_a_scene_break_lengthens_the_pause_and_says_nothing():
    plan = plan_speech("One.\n\n* * *\n\nTwo.", language="en", max_chars=400, pauses=Pauses())
    assert [(u.text, u.pause_ms) for u in plan] == [("One.", 1600), ("Two.", 800)]


def test_a_chapter_opens_with_its_title_once_then_a_section_number_said_as_a_word(tmp_path, piper):
    pauses = Pauses(sentence_ms=250, paragraph_ms=700, heading_ms=1000, title_ms=1500)
    text = "A Scandal in Bohemia\n\nI\n\nTo Sherlock Holmes she is always the woman.\n\nII\n\nI slept well."
    result = render_to_wav(
        tmp_path / "chapter.wav", engine=piper, voice_id=JOE, text=text, title="A Scandal in Bohemia",
        pauses=pauses,
    )  # fmt: skip

    assert piper.chunks == [
        "A Scandal in Bohemia", "one", "To Sherlock Holmes she is always the woman.", "two", "I slept well."
    ]  # fmt: skip
    captions = [(s.text, s.is_title) for s in result.sentences]
    assert captions == [("A Scandal in Bohemia", True), ("One", False),
                        ("To Sherlock Holmes she is always the woman.", False), ("Two", False),
                        ("I slept well.", False)]  # fmt: skip
    gaps = [b.start_ms - a.end_ms for a, b in zip(result.sentences, result.sentences[1:], strict=False)]
    assert gaps == pytest.approx([1500, 1000, 700, 1000], abs=1)


@pytest.mark.parametrize(
    ("title", "text", "announced"),
    [
        ("Chapter 1. Loomings.", "Chapter 1.\n\nLoomings.\n\nCall me Ishmael.", "Chapter one. Loomings."),
        ("Loomings", "CHAPTER 1\n\nLoomings\n\nCall me Ishmael.", "CHAPTER one. Loomings"),
        ("Chapter 1", "CHAPTER ONE\n\nCall me Ishmael.", "Chapter one"),
        ("Chapter I", "Chapter 1: Loomings\n\nCall me Ishmael.", "Chapter one: Loomings"),
        ("THE HARBOUR", "The Harbour.\n\nCall me Ishmael.", "THE HARBOUR"),
    ],
)
def test_the_title_and_the_texts_own_heading_are_one_announcement_in_the_fuller_wording(
    title, text, announced
):
    plan = plan_speech(text, language="en", max_chars=120, title=title, pauses=Pauses())
    assert [(u.text, u.is_title, u.pause_ms) for u in plan] == [
        (announced, True, 1500),
        ("Call me Ishmael.", False, 800),
    ]


def test_an_opening_paragraph_that_is_not_the_title_is_still_read():
    plan = plan_speech(
        "The Adventures of Sherlock Holmes\n\nBy Arthur Conan Doyle.", language="en", max_chars=120,
        title="Titlepage",
    )  # fmt: skip
    assert [u.text for u in plan] == [
        "Titlepage",
        "The Adventures of Sherlock Holmes",
        "By Arthur Conan Doyle.",
    ]


def test_a_part_without_the_title_reads_its_heading_as_written():
    # Only the chapter's first Part is given the title; the others read every paragraph.
    plan = plan_speech("Loomings.\n\nCall me Ishmael.", language="en", max_chars=120)
    assert [u.text for u in plan] == ["Loomings.", "Call me Ishmael."]


def test_section_headings_are_said_in_words_with_the_heading_pause():
    text = "Chapter XLII\n\nIt was the whiteness.\n\nAct I, Scene 2\n\nEnter Hamlet.\n\nXL\n\nThe end."
    plan = plan_speech(text, language="en", max_chars=120, pauses=Pauses())
    assert [(u.text, u.chunks, u.pause_ms) for u in plan] == [
        ("Chapter forty-two", ("Chapter forty-two",), 1000),
        ("It was the whiteness.", ("It was the whiteness.",), 800),
        ("Act one, Scene two", ("Act one, Scene two",), 1000),
        ("Enter Hamlet.", ("Enter Hamlet.",), 800),
        ("Forty", ("forty",), 1000),
        ("The end.", ("The end.",), 800),
    ]


def test_a_long_sentence_is_planned_as_several_chunks_within_the_limit():
    sentence = ("The rain fell on the roofs of the old town, " * 12).strip()
    (utterance,) = plan_speech(sentence, language="en", max_chars=120)
    assert len(utterance.chunks) > 1
    assert all(len(chunk) <= 120 for chunk in utterance.chunks)


def test_a_failed_render_leaves_no_file_behind(tmp_path):
    class Failing(Recording):
        def synthesize(self, chunks, *, voice_id, speed=1.0):
            for pcm in super().synthesize(chunks, voice_id=voice_id, speed=speed):
                yield pcm
                raise EngineError("the GPU fell over", retryable=True)

    with pytest.raises(EngineError):
        render_to_wav(tmp_path / "a.wav", engine=Failing(get_engine("piper")), voice_id=JOE, text="One. Two.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("speed", [0.4, 2.5, float("nan")])
def test_a_speed_outside_half_to_double_is_refused(speed):
    with pytest.raises(ValueError, match=r"between 0\.5 and 2\.0"):
        validate_speed(speed)


@pytest.mark.parametrize("pauses", [{"sentence_ms": -1}, {"paragraph_ms": 10_001}, {"title_ms": 1.5}])
def test_pauses_must_be_whole_milliseconds_up_to_ten_seconds(pauses):
    with pytest.raises(ValueError, match="milliseconds"):
        Pauses(**pauses)


def test_the_render_key_changes_with_everything_that_changes_the_audio():
    voice = "piper:" + JOE
    model = get_engine("piper").model_digest(JOE)
    key = render_key(voice_key=voice, model_digest=model, speed=1.0, text="Hello.")
    assert key == render_key(voice_key=voice, model_digest=model, speed=1.0, text="Hello.")
    variants = {
        key,
        render_key(voice_key=voice, model_digest="0" * 64, speed=1.0, text="Hello."),
        render_key(voice_key=voice, model_digest=model, speed=1.1, text="Hello."),
        render_key(voice_key=voice, model_digest=model, speed=1.0, text="Hello!"),
        render_key(voice_key="piper:other", model_digest=model, speed=1.0, text="Hello."),
        render_key(voice_key=voice, model_digest=model, speed=1.0, text="Hello.", title="Chapter One"),
        render_key(
            voice_key=voice, model_digest=model, speed=1.0, text="Hello.", pauses=Pauses(sentence_ms=301)
        ),
        render_key(
            voice_key=voice, model_digest=model, speed=1.0, text="Hello.", pauses=Pauses(heading_ms=900)
        ),
    }
    assert len(variants) == 8


def test_a_voices_configured_pauses_are_in_its_render_key_and_its_audio(tmp_path, piper, settings):
    voice = "piper:" + JOE
    model = get_engine("piper").model_digest(JOE)
    default_key = render_key(voice_key=voice, model_digest=model, speed=1.0, text="One. Two.")
    assert default_key == render_key(voice_key=voice, model_digest=model, speed=1.0, text="One. Two.",
                                     pauses=Pauses())  # fmt: skip

    settings.TTS_VOICE_PAUSES = '{"piper:en_US-joe-medium": {"sentence_ms": 900}}'
    key = render_key(voice_key=voice, model_digest=model, speed=1.0, text="One. Two.")
    assert key != default_key
    assert key == render_key(voice_key=voice, model_digest=model, speed=1.0, text="One. Two.",
                             pauses=Pauses(sentence_ms=900))  # fmt: skip
    result = render_to_wav(tmp_path / "a.wav", engine=piper, voice_id=JOE, text="One. Two.")
    first, second = result.sentences
    assert second.start_ms - first.end_ms == pytest.approx(900, abs=1)


def test_the_model_digest_is_the_sha256_of_the_voice_files_and_follows_a_replaced_file(tmp_path):
    import hashlib
    import shutil

    engine = get_engine("piper")
    files = engine.model_files(JOE)
    expected = hashlib.sha256(
        b"".join(hashlib.sha256(path.read_bytes()).hexdigest().encode() for path in files)
    ).hexdigest()
    assert engine.model_digest(JOE) == expected

    voices = tmp_path / "voices"
    voices.mkdir()
    shutil.copy(files[0], voices / "en_US-copy-medium.onnx")
    shutil.copy(files[1], voices / "en_US-copy-medium.onnx.json")
    other = PiperEngine(voices_dir=voices)
    before = other.model_digest("en_US-copy-medium")
    assert before == engine.model_digest(JOE)  # the same bytes
    config = voices / "en_US-copy-medium.onnx.json"
    config.write_text(config.read_text() + " ")
    assert other.model_digest("en_US-copy-medium") != before


def test_a_render_asked_to_stop_raises_and_leaves_no_file(tmp_path):
    from tts_engine.speech import RenderStopped

    asked = []

    def stop_on_second_chunk() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(RenderStopped):
        render_to_wav(
            tmp_path / "x.wav",
            engine=get_engine("piper"),
            voice_id=JOE,
            text="One sentence here. Another one there. And a third.",
            should_stop=stop_on_second_chunk,
        )
    assert list(tmp_path.iterdir()) == []


def test_slow_speech_uses_shorter_chunks_so_memory_stays_flat():
    engine = get_engine("piper")
    assert chunk_limit(engine, 1.0) == chunk_limit(engine, 2.0) == engine.max_chunk_chars
    assert chunk_limit(engine, 0.5) == engine.max_chunk_chars // 2
