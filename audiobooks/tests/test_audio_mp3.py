# mypy: disable-error-code="attr-defined,union-attr,operator,index"
# (mutagen types every file's info and tags as Optional; these tests read files they just wrote.)
from __future__ import annotations

import imageio_ffmpeg
import pytest
from mutagen.id3 import ID3, PictureType
from mutagen.mp3 import MP3, BitrateMode
from PIL import Image

from audiobooks.audio import AudioError
from audiobooks.audio.concat import ChapterAudio
from audiobooks.audio.master import mastering_filter, mastering_gain, measure_loudness
from audiobooks.audio.mp3 import ACX_MP3, CHAPTER_MP3, ChapterTags, acx_spans, encode_mp3
from audiobooks.audio.testing import write_tone
from tts_engine.registry import get_engine
from tts_engine.speech import render_to_wav

JOE = "en_US-joe-medium"
TITLE = "<script>alert(1)</script> & Chapter Ünïcode"


@pytest.fixture(params=["system", "imageio"])
def ffmpeg(request, settings):
    if request.param == "imageio":
        settings.FFMPEG_BINARY = imageio_ffmpeg.get_ffmpeg_exe()
    return settings.FFMPEG_BINARY


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    path = tmp_path_factory.mktemp("speech") / "chapter.wav"
    text = "The ferryman rose early, as he always did. He walked down to the water and waited."
    result = render_to_wav(path, engine=get_engine("piper"), voice_id=JOE, text=text)
    return ChapterAudio(result.path, result.sample_rate, result.num_samples, result.sentences)


@pytest.fixture
def cover(tmp_path):
    path = tmp_path / "cover.jpg"
    Image.new("RGB", (32, 32), "teal").save(path, "JPEG")
    return path


def test_acx_mp3_is_44k1_cbr_192k_mono_with_literal_tags_and_cover(tmp_path, speech, cover, ffmpeg):
    tags = ChapterTags(title=TITLE, album="The Book", artist="A. Author & B. Writer", track=3, track_total=12,
                       year="2024", cover=cover)  # fmt: skip
    target = encode_mp3(speech.path, tmp_path / "03.mp3", profile=ACX_MP3, tags=tags)

    mp3 = MP3(target)
    assert (mp3.info.sample_rate, mp3.info.channels) == (44100, 1)
    assert mp3.info.bitrate == pytest.approx(192_000, abs=100)
    assert mp3.info.bitrate_mode == BitrateMode.CBR
    assert mp3.info.length == pytest.approx(speech.duration_ms / 1000, abs=0.1)
    id3 = ID3(target)
    assert id3.version == (2, 3, 0)
    assert str(id3["TIT2"]) == TITLE
    assert str(id3["TALB"]) == "The Book"
    assert str(id3["TPE1"]) == "A. Author & B. Writer"
    assert str(id3["TRCK"]) == "3/12"
    assert str(id3["TCON"]) == "Audiobook"
    (picture,) = id3.getall("APIC")
    assert (picture.mime, picture.type, picture.data) == (
        "image/jpeg",
        PictureType.COVER_FRONT,
        cover.read_bytes(),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["03.mp3", "cover.jpg"]


def test_chapter_mp3_masters_on_the_way_and_keeps_peaks_under_minus_3(tmp_path, speech, ffmpeg):
    chain = mastering_filter(mastering_gain(measure_loudness(speech.path)), input_rate=speech.sample_rate)
    target = encode_mp3(speech.path, tmp_path / "01.mp3", profile=CHAPTER_MP3, audio_filter=chain)

    mp3 = MP3(target)
    assert (mp3.info.sample_rate, mp3.info.channels) == (speech.sample_rate, 1)
    assert mp3.info.bitrate == pytest.approx(64_000, abs=100)
    assert mp3.info.length == pytest.approx(speech.duration_ms / 1000 + 2.75, abs=0.1)
    loudness = measure_loudness(target, true_peak=True)
    assert loudness.true_peak_dbfs <= -3.0
    assert -21.0 <= loudness.integrated_lufs <= -18.0
    assert mp3.tags is None or not mp3.tags.getall("TIT2")


def test_a_cover_that_is_not_an_image_is_refused_and_leaves_no_file(tmp_path):
    source = write_tone(tmp_path / "a.wav", seconds=1)
    bogus = tmp_path / "cover.jpg"
    bogus.write_bytes(b"<html>not an image</html>")
    tags = ChapterTags(title="T", album="A", artist="B", track=1, track_total=1, cover=bogus)

    with pytest.raises(AudioError, match="JPEG or PNG") as caught:
        encode_mp3(source, tmp_path / "01.mp3", tags=tags)

    assert caught.value.retryable is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "cover.jpg"]


def test_acx_spans_cut_long_chapters_into_equal_pieces_under_two_hours():
    two_hours = 120 * 60_000
    assert acx_spans(1000) == [(0, 1000)]
    assert acx_spans(two_hours) == [(0, two_hours)]
    assert acx_spans(two_hours + 1) == [(0, 3_600_000), (3_600_000, two_hours + 1)]
    assert acx_spans(5 * 3_600_000)[-1][1] == 5 * 3_600_000
    assert all(end - start <= two_hours for start, end in acx_spans(5 * 3_600_000))


def test_a_span_encodes_only_that_stretch(tmp_path):
    source = write_tone(tmp_path / "a.wav", seconds=6)

    target = encode_mp3(source, tmp_path / "piece.mp3", profile=ACX_MP3, span_ms=(2000, 5000))

    assert MP3(target).info.length == pytest.approx(3.0, abs=0.06)


def test_mastering_on_the_way_to_44k1_keeps_the_room_tone_lengths(tmp_path, ffmpeg):
    from audiobooks.audio.master import HEAD_MS, TAIL_MS, mastering_filter

    source = write_tone(tmp_path / "a.wav", seconds=3)  # 22,050 Hz, as Piper speaks
    chain = mastering_filter(0.0, input_rate=22050)

    target = encode_mp3(source, tmp_path / "acx.mp3", profile=ACX_MP3, audio_filter=chain)

    assert MP3(target).info.sample_rate == 44100
    assert MP3(target).info.length == pytest.approx(3.0 + (HEAD_MS + TAIL_MS) / 1000, abs=0.06)
