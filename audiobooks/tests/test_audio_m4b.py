# mypy: disable-error-code="attr-defined,union-attr,operator,index,arg-type"
# (mutagen types every file's info and tags as Optional; these tests read files they just wrote.)
from __future__ import annotations

import re
import struct

import imageio_ffmpeg
import pytest
from mutagen.mp4 import MP4
from PIL import Image

from audiobooks.audio import AudioError
from audiobooks.audio.concat import ChapterAudio
from audiobooks.audio.m4b import BookTags, ChapterFile, build_m4b, escape_ffmetadata, ffmetadata
from audiobooks.audio.master import master_wav, measure_loudness
from audiobooks.audio.testing import probe, write_tone
from tts_engine.registry import get_engine
from tts_engine.speech import render_to_wav

JOE = "en_US-joe-medium"
TITLES = ["Chapter 1; the = sign", "<script>alert(1)</script> #2", "Back\\slash\nand newline"]


@pytest.fixture(params=["system", "imageio"])
def ffmpeg(request, settings):
    if request.param == "imageio":
        settings.FFMPEG_BINARY = imageio_ffmpeg.get_ffmpeg_exe()
    return settings.FFMPEG_BINARY


@pytest.fixture(scope="module")
def chapters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chapters")
    engine = get_engine("piper")
    texts = ["It was a dark night.", "The rain fell on the roofs of the town.", "Morning came at last."]
    files = []
    for i, (title, text) in enumerate(zip(TITLES, texts, strict=True)):
        raw = render_to_wav(folder / f"raw{i}.wav", engine=engine, voice_id=JOE, text=text, title=title)
        chapter = ChapterAudio(raw.path, raw.sample_rate, raw.num_samples, raw.sentences)
        mastered = master_wav(chapter, folder / f"it's {i}.wav")  # a quote in the path
        files.append((ChapterFile(mastered.audio.path, title), mastered.audio))
    return files


@pytest.fixture
def cover(tmp_path):
    path = tmp_path / "cover.png"
    Image.new("RGB", (48, 48), "navy").save(path, "PNG")
    return path


def _top_level_atoms(path):
    names, data = [], path.read_bytes()
    offset = 0
    while offset < len(data):
        size, name = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        names.append(name.decode())
        offset += size
    return names


def test_m4b_has_a_marker_per_chapter_at_measured_starts_with_tags_and_cover(
    tmp_path, chapters, cover, ffmpeg
):
    tags = BookTags(
        title="The <b>Book</b>",
        author="A. Author",
        narrator="piper:en_US-joe-medium",
        year="2024",
        cover=cover,
    )
    result = build_m4b([f for f, _ in chapters], tmp_path / "book.m4b", tags=tags)

    # Markers round the running sample count, so no error accumulates across chapters.
    rate = chapters[0][1].sample_rate
    ends = [round(sum(a.num_samples for _, a in chapters[: i + 1]) * 1000 / rate) for i in range(3)]
    durations = [a.duration_ms for _, a in chapters]
    assert result.duration_ms == ends[-1] == pytest.approx(sum(durations), abs=2)
    assert [(m.start_ms, m.end_ms) for m in result.chapters] == list(zip([0, *ends[:-1]], ends, strict=True))
    m4b = MP4(result.path)
    assert m4b.info.codec.startswith("mp4a")
    assert m4b.info.bitrate <= 66_000  # 64 kb/s average; less where the narration pauses
    assert re.search(r"Audio: aac \(LC\).*, mono, .*kb/s", probe(result.path))
    assert m4b.info.length == pytest.approx(sum(durations) / 1000, abs=0.1)
    assert [c.title for c in m4b.chapters] == [
        "Chapter 1; the = sign",
        "<script>alert(1)</script> #2",
        "Back\\slash and newline",
    ]
    assert [c.start for c in m4b.chapters] == pytest.approx(
        [m.start_ms / 1000 for m in result.chapters], abs=0.01
    )
    assert m4b.tags["©nam"] == ["The <b>Book</b>"]
    assert m4b.tags["©alb"] == ["The <b>Book</b>"]
    assert m4b.tags["©ART"] == ["A. Author"]
    assert m4b.tags["©gen"] == ["Audiobook"]
    assert m4b.tags["©wrt"] == ["piper:en_US-joe-medium"]
    assert m4b.tags["©day"] == ["2024"]
    assert bytes(m4b.tags["covr"][0]) == cover.read_bytes()
    atoms = _top_level_atoms(result.path)
    assert atoms.index("moov") < atoms.index("mdat")  # faststart: playable while downloading
    assert measure_loudness(result.path, true_peak=True).true_peak_dbfs <= -3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.m4b", "cover.png"]


def test_m4b_without_cover_or_optional_tags(tmp_path, chapters):
    result = build_m4b([chapters[0][0]], tmp_path / "book.m4b", tags=BookTags(title="T", author="A"))

    m4b = MP4(result.path)
    assert len(m4b.chapters) == 1
    assert "covr" not in m4b.tags
    assert "©wrt" not in m4b.tags


def test_tone_chapters_encode_at_64k_and_markers_follow_sample_counts(tmp_path, ffmpeg):
    files = [ChapterFile(write_tone(tmp_path / f"{i}.wav", seconds=s, freq=200 + 100 * i), f"C{i}")
             for i, s in enumerate([1.0, 2.5, 0.75])]  # fmt: skip

    result = build_m4b(files, tmp_path / "book.m4b", tags=BookTags(title="T", author="A"))

    assert [(m.start_ms, m.end_ms) for m in result.chapters] == [(0, 1000), (1000, 3500), (3500, 4250)]
    assert MP4(result.path).info.bitrate == pytest.approx(64_000, rel=0.1)
    assert [c.start for c in MP4(result.path).chapters] == pytest.approx([0, 1.0, 3.5], abs=0.01)


def test_chapters_of_different_sample_rates_are_refused(tmp_path):
    a = write_tone(tmp_path / "a.wav", seconds=1, rate=22050)
    b = write_tone(tmp_path / "b.wav", seconds=1, rate=44100)

    with pytest.raises(AudioError, match="sample rate"):
        build_m4b([ChapterFile(a, "A"), ChapterFile(b, "B")], tmp_path / "book.m4b", tags=BookTags("T", "A"))
    assert not (tmp_path / "book.m4b").exists()


def test_ffmetadata_escapes_its_special_characters():
    assert escape_ffmetadata("a=b;c#d\\e\nf") == "a\\=b\\;c\\#d\\\\e\\\nf"
    text = ffmetadata(BookTags(title="x=y", author="#1"), [])
    assert text == ";FFMETADATA1\ntitle=x\\=y\nalbum=x\\=y\nartist=\\#1\nalbum_artist=\\#1\ngenre=Audiobook\n"
