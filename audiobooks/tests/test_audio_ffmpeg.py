from __future__ import annotations

import resource
import subprocess

import pytest

from audiobooks.audio import AudioError
from audiobooks.audio.concat import ChapterAudio
from audiobooks.audio.ffmpeg import run_ffmpeg
from audiobooks.audio.m4b import BookTags, ChapterFile, build_m4b
from audiobooks.audio.master import master_wav
from audiobooks.audio.mp3 import CHAPTER_MP3, encode_mp3
from audiobooks.audio.testing import write_tone


def test_a_missing_ffmpeg_is_a_retryable_error(settings, tmp_path):
    settings.FFMPEG_BINARY = str(tmp_path / "no-such-ffmpeg")

    with pytest.raises(AudioError) as caught:
        run_ffmpeg(["-version"], what="check ffmpeg")

    assert caught.value.retryable is True
    assert caught.value.message == "Could not check ffmpeg: the audio tool is unavailable."


def test_a_hung_ffmpeg_is_a_retryable_error(monkeypatch):
    def hang(*args, **kwargs):
        raise subprocess.TimeoutExpired(cmd="ffmpeg", timeout=1)

    monkeypatch.setattr(subprocess, "run", hang)

    with pytest.raises(AudioError) as caught:
        run_ffmpeg(["-version"], what="check ffmpeg", timeout=1)

    assert caught.value.retryable is True


def test_mastering_and_both_encodes_cost_under_two_cpu_seconds_per_audio_minute(tmp_path):
    minutes = 2
    source = write_tone(tmp_path / "src.wav", seconds=60 * minutes)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)

    mastered = master_wav(ChapterAudio(source, 22050, 60 * minutes * 22050, []), tmp_path / "m.wav")
    encode_mp3(mastered.audio.path, tmp_path / "m.mp3", profile=CHAPTER_MP3)
    build_m4b([ChapterFile(mastered.audio.path, "One")], tmp_path / "b.m4b", tags=BookTags("T", "A"))

    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu / minutes < 2.0  # the budget; about 0.6 measured on the dev machine
