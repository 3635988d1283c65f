from __future__ import annotations

import wave

import pytest

from tts_engine.engines.base import EngineError
from tts_engine.previews import MAX_PREVIEW_CHARS, render_preview, trim_preview_text


def test_a_voice_preview_is_a_wav_of_about_ten_seconds(tmp_path):
    result = render_preview(tmp_path / "joe.wav", voice_key="piper:en_US-joe-medium")
    assert 6_000 < result.duration_ms < 14_000
    with wave.open(str(result.path)) as wav:
        assert wav.getnframes() == result.num_samples


def test_a_preview_of_the_readers_text_speaks_that_text(tmp_path):
    result = render_preview(
        tmp_path / "mine.wav", voice_key="piper:en_US-joe-medium", text="Call me Ishmael."
    )
    assert [s.text for s in result.sentences] == ["Call me Ishmael."]


def test_a_readers_preview_text_is_trimmed_at_a_word_boundary():
    text = "word " * 200
    trimmed = trim_preview_text(text)
    assert len(trimmed) <= MAX_PREVIEW_CHARS
    assert set(trimmed.split()) == {"word"}


def test_a_preview_of_an_unknown_voice_is_a_permanent_error(tmp_path):
    with pytest.raises(EngineError) as caught:
        render_preview(tmp_path / "x.wav", voice_key="piper:xx_XX-nobody-low")
    assert caught.value.retryable is False
