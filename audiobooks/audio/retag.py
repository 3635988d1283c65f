"""New book-level tags on finished files, in place, by mutagen: the audio is never decoded or encoded.

When a reader edits a book's title, authors or cover, its M4B and chapter MP3s
follow: mutagen rewrites the MP4 `ilst` atoms and the ID3 frames and leaves
every audio frame as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mutagen import MutagenError
from mutagen.id3 import APIC, ID3, TALB, TPE1, ID3NoHeaderError, PictureType
from mutagen.mp4 import MP4, MP4Cover

from audiobooks.audio.ffmpeg import AudioError
from audiobooks.audio.mp3 import read_cover


@dataclass(frozen=True)
class BookDetails:
    title: str
    author: str
    cover: Path | None  # JPEG or PNG; None leaves no cover


def retag_m4b(path: Path, details: BookDetails) -> None:
    """Set the M4B's title, album, artist, album artist and cover (as ``audio.m4b`` writes them)."""
    try:
        m4b = MP4(str(path))
        if m4b.tags is None:
            m4b.add_tags()
        assert m4b.tags is not None
        m4b.tags["\xa9nam"] = [details.title]
        m4b.tags["\xa9alb"] = [details.title]
        m4b.tags["\xa9ART"] = [details.author]
        m4b.tags["aART"] = [details.author]
        if details.cover is not None:
            data, mime = read_cover(details.cover)
            kind = MP4Cover.FORMAT_JPEG if mime == "image/jpeg" else MP4Cover.FORMAT_PNG
            m4b.tags["covr"] = [MP4Cover(data, imageformat=kind)]
        else:
            m4b.tags.pop("covr", None)
        m4b.save()
    except MutagenError as error:
        raise AudioError("Could not rewrite the audiobook's tags.", retryable=False) from error


def retag_mp3(path: Path, details: BookDetails) -> None:
    """Set a chapter MP3's album, artist and cover (as ``audio.mp3.write_id3`` writes them)."""
    try:
        try:
            id3 = ID3(str(path))
        except ID3NoHeaderError:
            id3 = ID3()
        id3.setall("TALB", [TALB(encoding=3, text=details.title)])
        id3.setall("TPE1", [TPE1(encoding=3, text=details.author)])
        id3.delall("APIC")
        if details.cover is not None:
            data, mime = read_cover(details.cover)
            id3.add(APIC(encoding=3, mime=mime, type=PictureType.COVER_FRONT, desc="Cover", data=data))
        id3.save(str(path), v2_version=3)
    except MutagenError as error:
        raise AudioError("Could not rewrite a chapter's tags.", retryable=False) from error
