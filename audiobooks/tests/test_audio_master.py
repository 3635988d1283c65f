# mypy: disable-error-code="attr-defined,union-attr,operator,index"
# (mutagen types every file's info and tags as Optional; these tests read files they just wrote.)
from __future__ import annotations

import logging

import imageio_ffmpeg
import numpy as np
import pytest

from audiobooks.audio import AudioError
from audiobooks.audio.concat import ChapterAudio
from audiobooks.audio.master import LIMIT_DBFS, TARGET_LUFS, master_wav, measure_loudness
from audiobooks.audio.testing import read_wav, write_tone
from tts_engine.registry import get_engine
from tts_engine.speech import SentenceTiming, render_to_wav

JOE = "en_US-joe-medium"
TEXT = (
    "The fog lay thick over the river that morning. Nobody in the village could remember a stranger "
    "season. Still, the ferryman rose early, as he always did, and walked down to the water.\n\n"
    "He did not see the boat until it was almost upon him!"
)


@pytest.fixture(params=["system", "imageio"])
def ffmpeg(request, settings):
    if request.param == "imageio":
        settings.FFMPEG_BINARY = imageio_ffmpeg.get_ffmpeg_exe()
    return settings.FFMPEG_BINARY


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    path = tmp_path_factory.mktemp("speech") / "chapter.wav"
    result = render_to_wav(path, engine=get_engine("piper"), voice_id=JOE, text=TEXT, title="Chapter One")
    return ChapterAudio(result.path, result.sample_rate, result.num_samples, result.sentences)


def _rms_db(samples):
    x = samples.astype(np.float64) / 32768
    return 20 * np.log10(np.sqrt(np.mean(x**2)))


def test_mastered_speech_meets_acx_loudness_peak_and_noise_floor(tmp_path, speech, ffmpeg):
    mastered = master_wav(speech, tmp_path / "mastered.wav")

    after = measure_loudness(mastered.audio.path, true_peak=True)
    rate, samples = read_wav(mastered.audio.path)
    assert after.integrated_lufs == pytest.approx(TARGET_LUFS, abs=1.5)
    assert after.true_peak_dbfs <= -3.0
    assert 20 * np.log10(np.abs(samples).max() / 32768) <= LIMIT_DBFS + 0.1
    assert -23.0 <= _rms_db(samples) <= -18.0
    head = samples[: rate // 2]
    assert np.abs(head).max() == 0  # room tone at the head: far under the -60 dB floor


def test_mastering_pads_head_and_tail_and_moves_timings_by_the_head(tmp_path, speech, ffmpeg):
    mastered = master_wav(speech, tmp_path / "mastered.wav", head_ms=750, tail_ms=2000)

    audio = mastered.audio
    assert audio.sample_rate == speech.sample_rate
    assert audio.num_samples == speech.num_samples + round(0.75 * speech.sample_rate) + round(
        2.0 * speech.sample_rate
    )
    assert [(s.start_ms - 750, s.end_ms - 750) for s in audio.sentences] == [
        (s.start_ms, s.end_ms) for s in speech.sentences
    ]
    _, samples = read_wav(audio.path)
    first_sound = np.flatnonzero(samples)[0] / audio.sample_rate
    assert 0.75 <= first_sound < 0.75 + speech.sentences[0].start_ms / 1000 + 0.1
    assert np.abs(samples[-round(1.9 * audio.sample_rate) :]).max() == 0


def test_raw_piper_peaks_near_full_scale_and_mastering_brings_it_down(tmp_path, speech):
    _, raw = read_wav(speech.path)
    loud = write_tone(tmp_path / "loud.wav", seconds=4, dbfs=0.0)
    chapter = ChapterAudio(loud, 22050, 4 * 22050, [SentenceTiming(0, 4000, "Tone.")])

    mastered = master_wav(chapter, tmp_path / "mastered.wav", sample_rate=44100)

    assert np.abs(raw).max() > 0.5 * 32767
    assert mastered.gain_db < 0
    assert mastered.audio.sample_rate == 44100
    assert measure_loudness(mastered.audio.path, true_peak=True).true_peak_dbfs <= -3.0


def test_acx_padding_limits_are_enforced(tmp_path, speech):
    with pytest.raises(ValueError, match="room tone"):
        master_wav(speech, tmp_path / "m.wav", head_ms=200)
    with pytest.raises(ValueError, match="room tone"):
        master_wav(speech, tmp_path / "m.wav", tail_ms=6000)


def test_ffmpeg_failure_is_an_audio_error_with_stderr_in_the_log_only(tmp_path, caplog):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    chapter = ChapterAudio(bad, 22050, 0, [])

    with caplog.at_level(logging.ERROR, logger="audiobooks.audio"), pytest.raises(AudioError) as caught:
        master_wav(chapter, tmp_path / "out.wav")

    assert caught.value.message == "Could not measure the chapter's loudness."
    assert caught.value.retryable is False
    assert "bad.wav" in caplog.text
    assert not (tmp_path / "out.wav").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav"]
