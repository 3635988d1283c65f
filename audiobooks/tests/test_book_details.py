# mypy: disable-error-code="index,union-attr"
# (mutagen types every file's tags as Optional; these tests read files the workers wrote.)
"""Editing a book's title, authors and cover: on the web, in the API, and in its finished files' tags."""

from __future__ import annotations

import html
import io
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from mutagen.id3 import ID3
from mutagen.mp4 import MP4
from PIL import Image

from accounts.models import User
from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.details import book_cover_replace, book_details_update
from audiobooks.errors import BookNotEditable, InvalidBookDetails
from audiobooks.ingest.covers import MAX_COVER_BYTES
from audiobooks.models import Book, Conversion, ConversionChapter, StoredObject
from audiobooks.pipeline.retag import book_files_retag
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.storage.services import stored_object_save
from audiobooks.tests.factories import completed_conversion, story_book, wait_until_finished
from audiobooks.tests.ingest_fixtures import picture
from credits.services import credits_grant_by_system
from tests.apiclient import assert_error, person_with_app
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

BOMB = picture("PNG", (12_000, 12_000), 0, mode="1")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cover_bytes(book: Book, folder: Path) -> bytes:
    path = folder / "cover-now"
    backend.object_download(book.cover_key, path)
    return path.read_bytes()


# --- The service -----------------------------------------------------------------------------


def test_title_and_authors_are_cleaned_and_saved(owner: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    edited = book_details_update(
        user=owner,
        book_uuid=book.uuid,
        title="  Leaves\tof  Grass\n",
        authors=["Walt  Whitman", "", "Walt Whitman"],
    )
    assert (edited.title, edited.authors) == ("Leaves of Grass", ["Walt Whitman"])
    book.refresh_from_db()
    assert (book.title, book.authors) == ("Leaves of Grass", ["Walt Whitman"])


@pytest.mark.parametrize(
    ("title", "authors", "message"),
    [
        ("", None, "can't be empty"),
        ("   \n ", None, "can't be empty"),
        ("x" * 501, None, "up to 500"),
        (None, ["a" * 201], "up to 200"),
        (None, [f"Author {n}" for n in range(21)], "up to 20 authors"),
    ],
)
def test_a_bad_title_or_author_list_is_refused_and_nothing_changes(
    owner: User, tmp_path: Path, title: str | None, authors: list[str] | None, message: str
) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    with pytest.raises(InvalidBookDetails, match=message):
        book_details_update(user=owner, book_uuid=book.uuid, title=title, authors=authors)
    fresh = Book.objects.get(pk=book.pk)
    assert (fresh.title, fresh.authors) == (book.title, book.authors)


def test_a_book_still_being_read_cannot_be_edited(owner: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    Book.objects.filter(pk=book.pk).update(status=Book.Status.INGESTING)
    with pytest.raises(BookNotEditable):
        book_details_update(user=owner, book_uuid=book.uuid, title="New")


def test_a_drawn_cover_is_drawn_again_for_the_new_title_and_the_old_one_goes(
    owner: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    assert book.cover_origin == Book.CoverOrigin.GENERATED
    old_key, old = book.cover_key, cover_bytes(book, tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        edited = book_details_update(user=owner, book_uuid=book.uuid, title="A Different Title")
    assert edited.cover_key != old_key
    assert edited.cover_origin == Book.CoverOrigin.GENERATED
    assert cover_bytes(edited, tmp_path) != old
    assert backend.object_head(old_key) is None
    assert list(StoredObject.objects.filter(book=book, kind="cover").values_list("key", flat=True)) == [
        edited.cover_key
    ]


def test_an_uploaded_cover_is_converted_kept_and_not_redrawn(
    owner: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    old_key = book.cover_key
    upload = io.BytesIO(picture("WEBP", (2000, 2000), "orange"))
    with django_capture_on_commit_callbacks(execute=True):
        edited = book_cover_replace(user=owner, book_uuid=book.uuid, upload=upload)
    assert edited.cover_origin == Book.CoverOrigin.UPLOADED
    assert edited.cover_key.endswith(".jpg")
    assert Image.open(io.BytesIO(cover_bytes(edited, tmp_path))).size == (1400, 1400)
    assert backend.object_head(old_key) is None
    # A new title keeps the reader's picture.
    again = book_details_update(user=owner, book_uuid=book.uuid, title="Renamed")
    assert again.cover_key == edited.cover_key


# --- The web forms ---------------------------------------------------------------------------


def test_the_book_page_has_the_edit_forms_and_they_save(owner: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    client = signed_in(owner)
    page = client.get(f"/books/{book.uuid}/convert")  # before converting
    assert b'action="/books/%s/details"' % str(book.uuid).encode() in page.content
    assert b'enctype="multipart/form-data"' in page.content
    response = client.post(
        f"/books/{book.uuid}/details", {"title": "Leaves of Grass", "authors": "Walt Whitman, Ed Folsom"}
    )
    assert response.status_code == 303
    book.refresh_from_db()
    assert (book.title, book.authors) == ("Leaves of Grass", ["Walt Whitman", "Ed Folsom"])
    cover = SimpleUploadedFile("anything.bin", picture("PNG", (300, 450), "navy"), content_type="image/png")
    assert client.post(f"/books/{book.uuid}/cover", {"cover": cover}).status_code == 303
    book.refresh_from_db()
    assert book.cover_origin == Book.CoverOrigin.UPLOADED


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda: b"%PDF-1.4 not a picture", 415, "not a picture"),
        (lambda: BOMB, 422, "too large to open"),
        (lambda: b"", 415, "empty"),
    ],
)
def test_the_cover_form_refuses_a_bad_file_with_its_own_status(
    owner: User, tmp_path: Path, make: Any, status: int, words: str
) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    response = signed_in(owner).post(
        f"/books/{book.uuid}/cover", {"cover": SimpleUploadedFile("c.jpg", make(), content_type="image/jpeg")}
    )
    assert response.status_code == status
    assert words in html.unescape(response.content.decode())
    assert Book.objects.get(pk=book.pk).cover_key == book.cover_key


def test_the_cover_form_refuses_a_picture_over_30_mb_before_reading_it(owner: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    big = SimpleUploadedFile("c.jpg", b"\xff\xd8\xff" + bytes(MAX_COVER_BYTES), content_type="image/jpeg")
    response = signed_in(owner).post(f"/books/{book.uuid}/cover", {"cover": big})
    assert response.status_code == 413
    assert "up to 30 MB" in html.unescape(response.content.decode())


def test_the_details_form_refuses_an_empty_title(owner: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    response = signed_in(owner).post(f"/books/{book.uuid}/details", {"title": " ", "authors": "X"})
    assert response.status_code == 400
    assert "can't be empty" in html.unescape(response.content.decode())


def test_a_stranger_cannot_edit_anothers_book(owner: User, stranger: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One"])
    client = signed_in(stranger)
    assert client.post(f"/books/{book.uuid}/details", {"title": "Mine now"}).status_code == 404
    cover = SimpleUploadedFile("c.png", picture("PNG", (10, 10)), content_type="image/png")
    assert client.post(f"/books/{book.uuid}/cover", {"cover": cover}).status_code == 404
    assert Book.objects.get(pk=book.pk).title == book.title


# --- The API ---------------------------------------------------------------------------------


@pytest.fixture
def reader() -> tuple[User, Any]:
    return person_with_app("reader@example.com")


def test_the_api_patches_title_and_authors(reader: Any, tmp_path: Path) -> None:
    user, api = reader
    book = story_book(user, tmp_path, titles=["One"])
    response = api.patch(
        f"/api/v1/books/{book.uuid}", {"title": "Leaves of Grass", "authors": ["Walt Whitman"]}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["authors"], body["contributors"]) == ("Leaves of Grass", ["Walt Whitman"], [])
    assert body["cover_url"]


def test_the_api_takes_a_cover_by_multipart(reader: Any, tmp_path: Path) -> None:
    user, api = reader
    book = story_book(user, tmp_path, titles=["One"])
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="30"><rect width="20" height="30"/></svg>'
    )
    response = api.http.patch(
        f"/api/v1/books/{book.uuid}",
        data=_multipart({"title": "With a picture"}, cover=("c.svg", svg)),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers={"X-Session-Token": api.token},
    )
    assert response.status_code == 200, response.content
    book.refresh_from_db()
    assert (book.title, book.cover_origin) == ("With a picture", Book.CoverOrigin.UPLOADED)
    assert Image.open(io.BytesIO(cover_bytes(book, tmp_path))).size == (933, 1400)


@pytest.mark.parametrize(
    ("payload", "cover", "status", "code"),
    [
        ({"title": ""}, None, 400, "invalid_book_details"),
        ({"authors": ["x" * 300]}, None, 400, "invalid_book_details"),
        ({}, b"just text", 415, "cover_not_an_image"),
        ({}, BOMB, 422, "cover_too_many_pixels"),
    ],
)
def test_the_api_refuses_a_bad_edit_with_a_specific_error(
    reader: Any, tmp_path: Path, *, payload: dict[str, Any], cover: bytes | None, status: int, code: str
) -> None:
    user, api = reader
    book = story_book(user, tmp_path, titles=["One"])
    if cover is None:
        response = api.patch(f"/api/v1/books/{book.uuid}", payload)
    else:
        response = api.http.patch(
            f"/api/v1/books/{book.uuid}",
            data=_multipart(payload, cover=("c.png", cover)),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            headers={"X-Session-Token": api.token},
        )
    assert_error(response, status, code)
    fresh = Book.objects.get(pk=book.pk)
    assert (fresh.title, fresh.cover_key) == (book.title, book.cover_key)


def test_the_api_refuses_a_cover_over_30_mb_by_its_announced_size(reader: Any, tmp_path: Path) -> None:
    user, api = reader
    book = story_book(user, tmp_path, titles=["One"])
    response = api.http.patch(
        f"/api/v1/books/{book.uuid}",
        data=_multipart({}, cover=("c.jpg", b"\xff\xd8\xff" + bytes(MAX_COVER_BYTES))),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers={"X-Session-Token": api.token},
    )
    assert_error(response, 413, "cover_too_large", "up to 30 MB")


def test_the_api_refuses_a_body_that_is_not_an_object(reader: Any, tmp_path: Path) -> None:
    user, api = reader
    book = story_book(user, tmp_path, titles=["One"])
    assert_error(api.patch(f"/api/v1/books/{book.uuid}", ["title"]), 400, "invalid")


def test_the_api_answers_404_for_anothers_book(reader: Any, stranger: User, tmp_path: Path) -> None:
    _, api = reader
    book = story_book(stranger, tmp_path, titles=["One"])
    assert_error(api.patch(f"/api/v1/books/{book.uuid}", {"title": "Mine"}), 404, "not_found")


BOUNDARY = "----ebookvoice-test-boundary"


def _multipart(fields: dict[str, Any], *, cover: tuple[str, bytes]) -> bytes:
    parts = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{item}\r\n'.encode()
            )
    filename, data = cover
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="cover"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


# --- The finished files follow -----------------------------------------------------------------


def audio_md5(path: Path) -> str:
    """The audio packets' checksum, copied out as they are: equal means not one frame was re-encoded."""
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
         "-map", "0:a:0", "-c", "copy", "-f", "md5", "-"],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def fetch(conversion: Conversion, folder: Path) -> tuple[Path, Path]:
    ids = deliverable_ids(conversion)
    folder.mkdir(parents=True, exist_ok=True)
    m4b, mp3 = folder / "book.m4b", folder / "01.mp3"
    backend.object_download(storage_keys.m4b_key(**ids), m4b)
    backend.object_download(storage_keys.mp3_key(**ids, number=1), mp3)
    return m4b, mp3


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_finished_files_take_the_edit_by_retagging_never_by_re_encoding(
    owner: User, tmp_path: Path, celery_worker: object
) -> None:
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = story_book(owner, tmp_path / "book", titles=["The Harbour"])
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE, speed=1.0
    )
    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    m4b, mp3 = fetch(conversion, tmp_path / "before")
    before = (audio_md5(m4b), audio_md5(mp3))
    assert MP4(m4b).tags["\xa9nam"] == ["The Lighthouse"]

    book_details_update(user=owner, book_uuid=book.uuid, title="Leaves of Grass", authors=["Walt Whitman"])
    new_cover = picture("PNG", (200, 300), "crimson")
    book_cover_replace(user=owner, book_uuid=book.uuid, upload=io.BytesIO(new_cover))

    deadline = time.monotonic() + 60
    while True:  # the worker retags after each edit's commit
        m4b, mp3 = fetch(conversion, tmp_path / f"after-{time.monotonic()}")
        tags, id3 = MP4(m4b).tags, ID3(mp3)
        assert tags is not None
        if (
            tags.get("covr")
            and bytes(tags["covr"][0]) == new_cover
            and id3.getall("APIC")[0].data == new_cover
        ):
            break
        assert time.monotonic() < deadline, "the files were not retagged"
        time.sleep(0.5)
    assert (tags["\xa9nam"], tags["\xa9alb"], tags["\xa9ART"]) == (["Leaves of Grass"],) * 2 + (
        ["Walt Whitman"],
    )
    assert (str(id3["TALB"]), str(id3["TPE1"]), str(id3["TIT2"])) == (
        "Leaves of Grass",
        "Walt Whitman",
        "The Harbour",
    )
    assert MP4(m4b).chapters[0].title == "The Harbour"
    assert (audio_md5(m4b), audio_md5(mp3)) == before
    for key in (storage_keys.m4b_key(**deliverable_ids(conversion)),):
        assert StoredObject.objects.get(key=key).size == m4b.stat().st_size
        assert StoredObject.objects.get(key=key).filename == "Leaves of Grass.m4b"


# --- An edit while a conversion runs -----------------------------------------------------------


def test_a_conversion_that_completes_after_an_edit_has_its_files_retagged(
    owner: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from audiobooks.pipeline.assemble import _complete

    book = story_book(owner, tmp_path, titles=["One"])
    running, later = completed_conversion(book), completed_conversion(book)
    Conversion.objects.filter(pk__in=[running.pk, later.pk]).update(
        status=Conversion.Status.ASSEMBLING, finished_at=None
    )
    Conversion.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    Conversion.objects.filter(pk=later.pk).update(created_at=timezone.now() + timedelta(minutes=5))
    book_details_update(user=owner, book_uuid=book.uuid, title="Edited While It Ran")
    with django_capture_on_commit_callbacks() as sent:
        _complete(running.pk, duration_ms=1000)
    assert [callback.args for callback in sent] == [
        ("audiobooks.notify_conversion_finished", running.pk),
        ("audiobooks.retag_book_files", book.pk),
    ]
    with django_capture_on_commit_callbacks() as sent:  # submitted after the edit: nothing to mend
        _complete(later.pk, duration_ms=1000)
    assert [callback.args for callback in sent] == [("audiobooks.notify_conversion_finished", later.pk)]


def test_the_ready_chapters_of_a_running_conversion_are_retagged_too(owner: User, tmp_path: Path) -> None:
    book = story_book(owner, tmp_path, titles=["One", "Two"])
    conversion = completed_conversion(book)
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.SYNTHESIZING, finished_at=None
    )
    chapter = book.chapters.order_by("index")[0]
    ConversionChapter.objects.create(
        conversion=conversion, chapter=chapter, position=0, status=ConversionChapter.Status.READY,
        gain_db=0.0, duration_ms=1000, finished_at=timezone.now(),
    )  # fmt: skip
    mp3 = tmp_path / "01.mp3"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", "sine=frequency=440:duration=1", "-c:a", "libmp3lame", "-b:a", "64k", str(mp3)],
        check=True,
    )  # fmt: skip
    key = storage_keys.mp3_key(**deliverable_ids(conversion), number=1)
    with mp3.open("rb") as content:
        stored_object_save(key=key, content=content, kind=StoredObject.Kind.MP3, owner=owner, book=book)
    before = audio_md5(mp3)
    Book.objects.filter(pk=book.pk).update(title="Renamed Mid-Way", authors=["A. Writer"])
    assert book_files_retag(book_id=book.pk) == 1  # the one ready MP3; no M4B yet
    backend.object_download(key, mp3)
    id3 = ID3(mp3)
    assert (str(id3["TALB"]), str(id3["TPE1"])) == ("Renamed Mid-Way", "A. Writer")
    assert audio_md5(mp3) == before
