from __future__ import annotations

import tracemalloc
from itertools import pairwise

import pytest

from audiobooks.audio import AudioError
from audiobooks.audio.captions import LINE_CHARS, MAX_LINES, render_vtt, timestamp, write_vtt
from audiobooks.audio.concat import concat_parts
from audiobooks.audio.testing import parse_vtt, read_wav, write_tone
from tts_engine.registry import get_engine
from tts_engine.speech import RenderResult, SentenceTiming, render_to_wav

JOE = "en_US-joe-medium"


def _part(path, seconds, sentences, rate=22050):
    write_tone(path, seconds=seconds, rate=rate)
    return RenderResult(path=path, sample_rate=rate, num_samples=round(seconds * rate), sentences=sentences)


def test_parts_join_sample_exactly_with_timings_offset_by_earlier_parts(tmp_path):
    a = _part(tmp_path / "a.wav", 1.5, [SentenceTiming(0, 1200, "One.", is_title=True)])
    b = _part(
        tmp_path / "b.wav", 2.0, [SentenceTiming(100, 900, "Two."), SentenceTiming(1000, 1900, "Three.")]
    )

    chapter = concat_parts([a, b], tmp_path / "chapter.wav")

    rate, samples = read_wav(chapter.path)
    _, first = read_wav(a.path)
    _, second = read_wav(b.path)
    assert rate == 22050
    assert chapter.num_samples == samples.size == first.size + second.size
    assert (samples[: first.size] == first).all()
    assert (samples[first.size :] == second).all()
    assert chapter.duration_ms == 3500
    assert [(s.start_ms, s.end_ms, s.text, s.is_title) for s in chapter.sentences] == [
        (0, 1200, "One.", True),
        (1600, 2400, "Two.", False),
        (2500, 3400, "Three.", False),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav", "chapter.wav"]


def test_parts_with_different_sample_rates_are_refused_and_leave_no_file(tmp_path):
    a = _part(tmp_path / "a.wav", 0.5, [], rate=22050)
    b = _part(tmp_path / "b.wav", 0.5, [], rate=16000)

    with pytest.raises(AudioError) as caught:
        concat_parts([a, b], tmp_path / "chapter.wav")

    assert not caught.value.retryable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]


def test_joining_streams_so_memory_does_not_grow_with_length(tmp_path):
    parts = [_part(tmp_path / f"{i}.wav", 20.0, []) for i in range(6)]  # 2 min, ~5 MB of PCM
    tracemalloc.start()
    try:
        concat_parts(parts, tmp_path / "chapter.wav")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_real_speech_parts_join_and_their_captions_fall_inside_the_audio(tmp_path):
    engine = get_engine("piper")
    first = render_to_wav(
        tmp_path / "p0.wav", engine=engine, voice_id=JOE, text="It began. It went on.", title="One"
    )
    second = render_to_wav(
        tmp_path / "p1.wav", engine=engine, voice_id=JOE, text="Then it <ended> & stopped."
    )

    chapter = concat_parts([first, second], tmp_path / "chapter.wav")
    cues = parse_vtt(
        write_vtt(tmp_path / "c.vtt", chapter.sentences, duration_ms=chapter.duration_ms).read_text()
    )

    assert chapter.num_samples == first.num_samples + second.num_samples
    assert [c.text for c in cues] == ["One", "It began.", "It went on.", "Then it <ended> & stopped."]
    assert cues[-1].start_ms >= first.duration_ms
    assert all(a.end_ms <= b.start_ms for a, b in pairwise(cues))
    assert cues[-1].end_ms <= chapter.duration_ms


def test_captions_escape_markup_and_keep_it_as_text():
    vtt = render_vtt([SentenceTiming(0, 2000, "<script>alert(1)</script> & --> done")])

    cue = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; --&gt; done"
    assert vtt == f"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n{cue}\n"
    assert parse_vtt(vtt)[0].text == "<script>alert(1)</script> & --> done"


def test_a_long_sentence_splits_into_two_line_cues_timed_by_characters():
    text = " ".join(f"word{i:02d}" for i in range(40))  # 279 characters
    cues = parse_vtt(render_vtt([SentenceTiming(10_000, 20_000, text)]))

    assert len(cues) > 1
    assert all(len(c.text.split("\n")) <= MAX_LINES for c in cues)
    assert all(len(line) <= LINE_CHARS for c in cues for line in c.text.split("\n"))
    assert " ".join(c.text.replace("\n", " ") for c in cues) == text
    assert cues[0].start_ms == 10_000
    assert cues[-1].end_ms == 20_000
    assert all(a.end_ms == b.start_ms for a, b in pairwise(cues))
    for cue in cues:
        share = len(cue.text.replace("\n", "")) / sum(len(c.text.replace("\n", "")) for c in cues)
        assert cue.end_ms - cue.start_ms == pytest.approx(10_000 * share, abs=2)


def test_captions_are_clipped_to_the_audio_and_empty_sentences_dropped():
    vtt = render_vtt(
        [
            SentenceTiming(0, 500, "   "),
            SentenceTiming(500, 1500, "Kept."),
            SentenceTiming(1400, 3000, "Cut."),
        ],
        duration_ms=2000,
    )
    cues = parse_vtt(vtt)
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [(500, 1500, "Kept."), (1400, 2000, "Cut.")]


def test_timestamps_count_hours_past_one_day():
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(3_723_004) == "01:02:03.004"
    assert timestamp(100 * 3_600_000) == "100:00:00.000"
