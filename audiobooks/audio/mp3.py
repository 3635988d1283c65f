"""Chapter MP3s with ffmpeg's libmp3lame, tagged with ID3 by mutagen.

Two profiles: ``CHAPTER_MP3`` for listening in the app (64 kb/s mono at the
source's rate), and ``ACX_MP3`` for the ACX export, which asks for 44.1 kHz,
192 kb/s constant bit rate; we make it mono, as narration is. Tags are written
as given: a title such as ``<script>`` is text in a tag, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TRCK, PictureType

from audiobooks.audio.ffmpeg import AudioError, discard, finish, partial_path, run_ffmpeg

MAX_COVER_BYTES = 10 * 1024 * 1024
ACX_MAX_FILE_MS = 120 * 60 * 1000  # ACX refuses files longer than 120 minutes


@dataclass(frozen=True)
class Mp3Profile:
    bitrate_kbps: int
    sample_rate: int | None  # None keeps the source's


CHAPTER_MP3 = Mp3Profile(bitrate_kbps=64, sample_rate=None)
ACX_MP3 = Mp3Profile(bitrate_kbps=192, sample_rate=44100)


@dataclass(frozen=True)
class ChapterTags:
    title: str  # the chapter's
    album: str  # the book's title
    artist: str  # the authors
    track: int
    track_total: int
    year: str | None = None
    cover: Path | None = None  # JPEG or PNG


def cover_mime(data: bytes) -> str:
    """The MIME type of a JPEG or PNG cover, or AudioError."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    raise AudioError("The cover must be a JPEG or PNG image.", retryable=False)


def read_cover(path: Path) -> tuple[bytes, str]:
    try:
        size = path.stat().st_size
        if size > MAX_COVER_BYTES:
            raise AudioError("The cover image is too large.", retryable=False)
        data = path.read_bytes()
    except OSError as error:
        raise AudioError("Could not read the cover image.", retryable=True) from error
    return data, cover_mime(data)


def write_id3(path: Path, tags: ChapterTags) -> None:
    """Replace the ID3 tag of the MP3 at ``path`` (ID3v2.3, which every player reads)."""
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TALB(encoding=3, text=tags.album))
    id3.add(TPE1(encoding=3, text=tags.artist))
    id3.add(TRCK(encoding=3, text=f"{tags.track}/{tags.track_total}"))
    id3.add(TCON(encoding=3, text="Audiobook"))
    if tags.year:
        id3.add(TDRC(encoding=3, text=tags.year))
    if tags.cover is not None:
        data, mime = read_cover(tags.cover)
        id3.add(APIC(encoding=3, mime=mime, type=PictureType.COVER_FRONT, desc="Cover", data=data))
    id3.save(str(path), v2_version=3)


def acx_spans(duration_ms: int, *, max_ms: int = ACX_MAX_FILE_MS) -> list[tuple[int, int]]:
    """Equal (start, end) spans covering ``duration_ms``, none longer than ``max_ms``."""
    pieces = max(1, -(-duration_ms // max_ms))
    bounds = [round(duration_ms * i / pieces) for i in range(pieces + 1)]
    return list(pairwise(bounds))


def encode_mp3(
    source: Path,
    target: Path,
    *,
    profile: Mp3Profile = CHAPTER_MP3,
    tags: ChapterTags | None = None,
    audio_filter: str | None = None,
    span_ms: tuple[int, int] | None = None,
) -> Path:
    """Encode ``source`` to a mono CBR MP3 at ``target`` and tag it; ``target`` appears only when complete.

    ``audio_filter`` (from ``master.mastering_filter``) masters on the way,
    with no intermediate WAV. ``span_ms`` (start, end) encodes only that
    stretch of the source, for pieces of a chapter too long for ACX.
    """
    args = []
    if span_ms is not None:
        start, end = span_ms
        args += ["-ss", f"{start / 1000:.3f}", "-t", f"{(end - start) / 1000:.3f}"]
    args += ["-i", str(source), "-map", "0:a:0", "-map_metadata", "-1"]
    if audio_filter and profile.sample_rate and "aresample=" not in audio_filter:
        # With "-ar", ffmpeg may resample before the filters, which would
        # stretch or squeeze the room tone they count in input samples.
        audio_filter += f",aresample={profile.sample_rate}"
    if audio_filter:
        args += ["-af", audio_filter]
    args += ["-ac", "1"]
    if profile.sample_rate:
        args += ["-ar", str(profile.sample_rate)]
    args += ["-c:a", "libmp3lame", "-b:a", f"{profile.bitrate_kbps}k", "-id3v2_version", "0"]
    partial = partial_path(target)
    try:
        run_ffmpeg([*args, "-f", "mp3", str(partial)], what="encode the chapter MP3")
        if tags is not None:
            write_id3(partial, tags)
        finish(partial, target)
    except BaseException:
        discard(partial)
        raise
    return target
