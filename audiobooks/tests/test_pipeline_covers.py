# mypy: disable-error-code="index,union-attr"
# (mutagen types every file's tags as Optional; these tests read files the workers wrote.)
"""A book's cover, whatever picture it was, is in the library, the M4B (`covr`) and every MP3 (APIC)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from mutagen.id3 import ID3
from mutagen.mp4 import MP4, MP4Cover
from PIL import Image

from accounts.models import User
from audiobooks.models import Book, Conversion, StoredObject
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.tests.factories import ingest_now, story_book, upload_file, wait_until_finished
from audiobooks.tests.ingest_fixtures import picture
from credits.services import credits_grant_by_system
from ebookvoice.paths import corpus_dir
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db(transaction=True)

SVG_COVER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 300">'
    b'<rect width="200" height="300" fill="#204080"/><circle cx="100" cy="150" r="60" fill="#ffcc00"/></svg>'
)


def stored(key: str, folder: Path) -> bytes:
    path = folder / key.rsplit("/", 1)[-1]
    backend.object_download(key, path)
    return path.read_bytes()


def convert_first(user: User, book: Book) -> Conversion:
    conversion = conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE, speed=1.0
    )
    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    return conversion


def assert_cover_in_audio(conversion: Conversion, cover: bytes, folder: Path) -> None:
    ids = deliverable_ids(conversion)
    m4b = folder / "book.m4b"
    backend.object_download(storage_keys.m4b_key(**ids), m4b)
    covr = MP4(m4b).tags["covr"]
    assert len(covr) == 1
    assert bytes(covr[0]) == cover
    assert covr[0].imageformat == (
        MP4Cover.FORMAT_JPEG if cover.startswith(b"\xff\xd8") else MP4Cover.FORMAT_PNG
    )
    # As a player's probe sees it: the picture is the file's attached cover, not a video track.
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(m4b)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    pictures = [line for line in probe.stderr.splitlines() if "Video:" in line]
    assert len(pictures) == 1
    assert "(attached pic)" in pictures[0]
    assert ("mjpeg" if cover.startswith(b"\xff\xd8") else "png") in pictures[0]
    mp3 = folder / "01.mp3"
    backend.object_download(storage_keys.mp3_key(**ids, number=1), mp3)
    apic = ID3(mp3).getall("APIC")
    assert len(apic) == 1
    assert apic[0].data == cover


@pytest.mark.celery
def test_a_jpeg_and_an_svg_cover_are_stored_and_carried_by_the_m4b_and_the_mp3s(
    owner: User, tmp_path: Path, celery_worker: object
) -> None:
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    jpeg = picture("JPEG", (1800, 2700), "darkred")
    with_jpeg = story_book(
        owner, tmp_path / "jpeg", titles=["The Harbour"], cover=("c.jpg", jpeg, "image/jpeg")
    )
    with_svg = story_book(
        owner, tmp_path / "svg", titles=["The Storm"], cover=("c.svg", SVG_COVER, "image/svg+xml")
    )
    for book, expected_size in ((with_jpeg, (933, 1400)), (with_svg, (933, 1400))):
        assert book.cover_origin == Book.CoverOrigin.BOOK
        assert book.cover_key.endswith("/cover.jpg")
        data = stored(book.cover_key, tmp_path)
        assert Image.open(tmp_path / "cover.jpg").size == expected_size
        assert StoredObject.objects.get(key=book.cover_key).size == len(data)
        folder = tmp_path / str(book.pk)
        folder.mkdir()
        assert_cover_in_audio(convert_first(owner, book), data, folder)


def test_a_book_without_a_picture_gets_a_cover_drawn_from_its_title(owner: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One"], title="Plain Book")
    assert book.cover_origin == Book.CoverOrigin.GENERATED
    assert Image.open(io.BytesIO(stored(book.cover_key, tmp_path))).size == (1400, 1400)


def test_a_broken_cover_is_a_warning_and_the_book_gets_a_drawn_one(owner: User, tmp_path: Path) -> None:
    book = story_book(
        owner, tmp_path, titles=["One"], cover=("c.jpg", b"\xff\xd8\xff not really", "image/jpeg")
    )
    assert book.status == Book.Status.READY
    assert book.cover_origin == Book.CoverOrigin.GENERATED
    assert any("cover image is damaged" in warning for warning in book.warnings), book.warnings


def test_the_sherlock_svg_cover_is_stored_as_a_jpeg(owner: User, tmp_path: Path) -> None:
    book = upload_file(owner, corpus_dir() / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    assert (book.cover_origin, book.cover_key.rsplit("/", 1)[-1]) == (Book.CoverOrigin.BOOK, "cover.jpg")
    assert StoredObject.objects.get(key=book.cover_key).content_type == "image/jpeg"
