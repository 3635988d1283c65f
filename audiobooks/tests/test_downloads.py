"""Downloads: ownership, fresh links, HTTP Range in local mode, and the streamed MP3 zip."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from audiobooks.delivery.files import conversion_files_for_user
from audiobooks.models import StoredObject
from audiobooks.services import book_create_from_upload
from audiobooks.storage import backend, links
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.storage.services import stored_object_save
from audiobooks.tests.factories import completed_conversion

pytestmark = pytest.mark.django_db

EPUB = b"PK\x03\x04" + b"e" * 3000
M4B = bytes(range(256)) * 64  # 16 KB
MP3S = [b"ID3" + bytes([n]) * 5000 for n in (1, 2, 3)]


@pytest.fixture
def book(owner, django_capture_on_commit_callbacks):
    """A book with its original, an M4B, three chapter MP3s and captions."""
    with django_capture_on_commit_callbacks():
        book = book_create_from_upload(owner=owner, upload=ContentFile(EPUB), filename="<Moby> Dick.html")
    book.title = "Moby-Dick; or, The Whale"
    book.save(update_fields=["title"])
    ids = deliverable_ids(completed_conversion(book))
    stored_object_save(
        key=storage_keys.m4b_key(**ids),
        content=ContentFile(M4B),
        kind=StoredObject.Kind.M4B,
        owner=owner,
        book=book,
    )
    for number, data in enumerate(MP3S, start=1):
        stored_object_save(
            key=storage_keys.mp3_key(**ids, number=number),
            content=ContentFile(data),
            kind=StoredObject.Kind.MP3,
            owner=owner,
            book=book,
            filename=f"Moby-Dick - {number:02d} - Chapter {number}.mp3" if number != 2 else "",
        )
    stored_object_save(
        key=storage_keys.captions_key(**ids, number=1),
        content=ContentFile(b"WEBVTT\n\n00:00.000 --> 00:01.000\nCall me Ishmael.\n"),
        kind=StoredObject.Kind.VTT,
        owner=owner,
        book=book,
    )
    return book


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _file_url(book, name, **query):
    url = reverse("audiobooks:book-file", kwargs={"book_uuid": book.uuid, "name": name})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _zip_url(book) -> str:
    return reverse("audiobooks:book-mp3-zip", kwargs={"book_uuid": book.uuid})


def _link(client, book, name, **query) -> str:
    response = client.get(_file_url(book, name, **query))
    assert response.status_code == 302, response.content
    assert "no-store" in response["Cache-Control"]
    return response["Location"]


def test_the_owner_is_sent_to_a_short_lived_link_that_plays_the_audiobook(storage, owner, book):
    url = _link(_client(owner), book, "book.m4b")
    status, headers, body = storage.fetch("GET", url)
    assert (status, body) == (200, M4B)
    assert headers["Content-Type"] == "audio/mp4"
    assert headers["Content-Disposition"].startswith('inline; filename="Moby-Dick_ or, The Whale.m4b"')
    assert "filename*=UTF-8''Moby-Dick%3B%20or%2C%20The%20Whale.m4b" in headers["Content-Disposition"]


def test_a_second_conversion_of_the_book_never_touches_the_first_ones_files(storage, owner, book, tmp_path):
    first = book.conversions.get()
    second = completed_conversion(book)  # the newest: the book's pages offer its files
    for key, kind, data in (
        (storage_keys.m4b_key(**deliverable_ids(second)), StoredObject.Kind.M4B, b"second m4b"),
        (
            storage_keys.mp3_key(**deliverable_ids(second), number=1),
            StoredObject.Kind.MP3,
            b"ID3 second",
        ),
    ):
        stored_object_save(key=key, content=ContentFile(data), kind=kind, owner=owner, book=book)
    client = _client(owner)
    assert storage.fetch("GET", _link(client, book, "book.m4b"))[2] == b"second m4b"
    assert storage.fetch("GET", _link(client, book, "mp3/01.mp3"))[2] == b"ID3 second"
    assert client.get(_file_url(book, "mp3/02.mp3")).status_code == 404  # the first one's, not offered here
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(_chunks(client.get(_zip_url(book))))))
    assert [zipped.read(name) for name in zipped.namelist()] == [b"ID3 second"]
    # The first conversion's files are as they were, through its own downloads.
    files = conversion_files_for_user(user=owner, conversion_uuid=first.uuid)
    assert files.m4b is not None
    assert storage.fetch("GET", files.m4b.url)[2] == M4B
    for number, data in enumerate(MP3S, start=1):
        backend.object_download(
            storage_keys.mp3_key(**deliverable_ids(first), number=number), tmp_path / "a.mp3"
        )
        assert (tmp_path / "a.mp3").read_bytes() == data


def test_a_download_is_an_attachment_and_an_original_always_is(storage, owner, book):
    client = _client(owner)
    _, headers, _ = storage.fetch("GET", _link(client, book, "mp3/01.mp3", download="1"))
    assert headers["Content-Disposition"].startswith('attachment; filename="Moby-Dick - 01 - Chapter 1.mp3"')
    status, headers, body = storage.fetch("GET", _link(client, book, "original"))
    assert (status, body) == (200, EPUB)
    assert headers["Content-Type"] == "text/html"
    assert headers["Content-Disposition"].startswith('attachment; filename="_Moby_ Dick.html"')


def test_a_file_without_a_name_of_its_own_is_named_after_the_book(storage, owner, book):
    _, headers, _ = storage.fetch("GET", _link(_client(owner), book, "mp3/02.mp3"))
    assert headers["Content-Disposition"].startswith('inline; filename="Moby-Dick_ or, The Whale - 02.mp3"')
    _, headers, body = storage.fetch("GET", _link(_client(owner), book, "captions/01.vtt"))
    assert headers["Content-Type"] == "text/vtt; charset=utf-8"
    assert body.startswith(b"WEBVTT")


def test_a_player_can_ask_for_the_link_as_json(local_storage, owner, book):
    response = _client(owner).get(_file_url(book, "book.m4b", format="json"))
    assert response.status_code == 200
    payload = response.json()
    assert payload["url"].startswith("http://testserver/files/")
    assert payload["expires_at"]


@pytest.mark.parametrize("name", ["book.m4b", "mp3/01.mp3", "original", "captions/01.vtt"])
def test_another_users_book_file_is_a_404_for_a_stranger_and_for_staff(storage, stranger, staff, book, name):
    for someone in (stranger, staff):
        response = _client(someone).get(_file_url(book, name))
        assert response.status_code == 404
        assert "Location" not in response


def test_someone_signed_out_is_sent_to_sign_in(local_storage, book):
    response = _client().get(_file_url(book, "book.m4b"))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("name", ["mp3/09.mp3", "cover", "../../etc/passwd", "book.m4b/..", "uploads/x.epub"])
def test_a_file_the_book_does_not_have_is_a_404(local_storage, owner, book, name):
    assert _client(owner).get(_file_url(book, name)).status_code == 404


def test_no_media_url_is_public(local_storage, owner, book):
    """No path of the site serves a key, whatever the storage's url() makes of it."""
    from django.core.files.storage import default_storage

    assert _client(owner).get("/" + default_storage.url(book.original_key).lstrip("/")).status_code == 404
    assert _client(owner).get("/" + book.original_key).status_code == 404
    assert _client(owner).get("/media/" + book.original_key).status_code == 404


# --- HTTP Range in local mode ---------------------------------------------------------------


@pytest.fixture
def m4b_link(local_storage, owner, book) -> str:
    return _link(_client(owner), book, "book.m4b")


def _chunks(response) -> list[bytes]:
    return list(response.streaming_content) if response.streaming else [response.content]


def _get(url, **headers):
    response = Client().get(url, headers=headers)
    return response, b"".join(_chunks(response))


def test_the_whole_file_says_it_accepts_ranges(m4b_link):
    response, body = _get(m4b_link)
    assert response.status_code == 200
    assert body == M4B
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(M4B))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=1000-", 1000, len(M4B) - 1), ("bytes=-10", len(M4B) - 10, len(M4B) - 1),
     ("bytes=16000-999999", 16000, len(M4B) - 1)],
)  # fmt: skip
def test_a_range_is_answered_with_206_and_exactly_those_bytes(m4b_link, header, first, last):
    response, body = _get(m4b_link, Range=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(M4B)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert body == M4B[first : last + 1]


def test_a_range_past_the_end_is_416_with_the_size(m4b_link):
    response, body = _get(m4b_link, Range=f"bytes={len(M4B)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(M4B)}"
    assert body == b""


def test_several_ranges_or_a_stale_if_range_get_the_whole_file(m4b_link):
    response, body = _get(m4b_link, Range="bytes=0-1,5-6")
    assert (response.status_code, body) == (200, M4B)
    etag = response["ETag"]
    response, body = _get(m4b_link, Range="bytes=0-9", **{"If-Range": '"stale"'})
    assert (response.status_code, body) == (200, M4B)
    response, body = _get(m4b_link, Range="bytes=0-9", **{"If-Range": etag})
    assert (response.status_code, body) == (206, M4B[:10])


def test_head_tells_the_size_without_the_body(m4b_link):
    response = Client().head(m4b_link)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(M4B))
    assert b"".join(_chunks(response)) == b""


def test_a_tampered_local_link_is_refused(m4b_link, owner, book):
    response, _ = _get(m4b_link[:-4] + ("AAAA" if not m4b_link.endswith("AAAA") else "BBBB"))
    assert response.status_code == 403
    # A link made for another file cannot be re-pointed: the key is inside the signature.
    other = _link(_client(owner), book, "mp3/01.mp3")
    assert _get(other)[1] == MP3S[0]


def test_an_expired_local_link_is_refused(local_storage, owner, book, settings):
    # Signatures carry whole seconds, so a link is up to a second older than it looks.
    settings.STORAGE_LINK_MAX_AGE_SECONDS = 3
    url = _link(_client(owner), book, "book.m4b")
    assert _get(url, Range="bytes=0-0")[0].status_code == 206
    with time_machine.travel(time.time() + 4.1):
        response, body = _get(url, Range="bytes=0-0")
    assert response.status_code == 403
    assert b"expired" in body


def test_a_local_link_to_a_deleted_file_is_a_404(m4b_link, owner, book):
    from audiobooks.services import book_delete

    book_delete(user=owner, book_uuid=book.uuid)
    assert _get(m4b_link)[0].status_code == 404


def test_the_local_link_views_do_not_exist_with_s3(s3, owner, book):
    url = _link(_client(owner), book, "book.m4b")
    assert url.startswith("http://127.0.0.1:")
    assert Client().get(reverse("audiobooks:signed-download", kwargs={"token": "x"})).status_code == 404
    assert (
        Client()
        .put(reverse("audiobooks:signed-upload", kwargs={"token": "x"}), b"", content_type="text/plain")
        .status_code
        == 404
    )


# --- The MP3 zip ----------------------------------------------------------------------------------


def test_all_mp3s_come_as_one_zip_streamed_in_chapter_order(storage, owner, book):
    response = _client(owner).get(_zip_url(book))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="Moby-Dick_ or, The Whale (MP3).zip"'
    )
    chunks = _chunks(response)
    assert len(chunks) > 3, "written while it is sent, not built first"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    assert archive.namelist() == [
        "Moby-Dick - 01 - Chapter 1.mp3",
        "Moby-Dick; or, The Whale - 02.mp3",
        "Moby-Dick - 03 - Chapter 3.mp3",
    ]
    assert [archive.read(name) for name in archive.namelist()] == MP3S
    assert storage.object_keys() == set(StoredObject.objects.values_list("key", flat=True)), "nothing stored"


def test_the_zip_of_another_users_book_or_of_a_book_without_mp3s_is_a_404(
    local_storage, owner, stranger, staff, book
):
    url = _zip_url(book)
    assert _client(stranger).get(url).status_code == 404
    assert _client(staff).get(url).status_code == 404
    StoredObject.objects.filter(kind=StoredObject.Kind.MP3).delete()
    assert _client(owner).get(url).status_code == 404


# --- The API's signed link to a conversion's MP3 zip ------------------------------------------------


def _archive_url(book, owner_uuid=None) -> str:
    conversion = book.conversions.get()
    return links.archive_link(conversion_uuid=conversion.uuid, owner_uuid=owner_uuid or book.owner.uuid).url


def test_the_signed_zip_link_streams_the_conversions_mp3s_without_a_session_on_both_storages(storage, book):
    response = _client().get(_archive_url(book))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(_chunks(response))))
    assert [archive.read(name) for name in archive.namelist()] == MP3S


def test_a_tampered_zip_link_is_a_403(local_storage, book):
    url = _archive_url(book)
    response = _client().get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
    assert response.status_code == 403
    assert b"not valid" in response.content


def test_an_expired_zip_link_is_a_403_that_says_so(local_storage, book):
    url = _archive_url(book)
    with time_machine.travel(time.time() + 16 * 60):
        response = _client().get(url)
    assert response.status_code == 403
    assert b"expired" in response.content


def test_a_zip_link_naming_someone_else_as_owner_is_a_404(local_storage, book, stranger):
    assert _client().get(_archive_url(book, owner_uuid=stranger.uuid)).status_code == 404


def test_a_zip_link_to_a_deleted_book_or_one_without_mp3s_is_a_404(local_storage, book):
    url = _archive_url(book)
    StoredObject.objects.filter(kind=StoredObject.Kind.MP3).delete()
    assert _client().get(url).status_code == 404
    book.delete()
    assert _client().get(url).status_code == 404
