"""Private podcast feeds: read by feedparser as a podcast app reads them, enclosures followed to the bytes.

Runs on local files and on the S3 server (``storage``), so the 302 to a fresh
link, and a Range request answered 206 on the link it lands on, hold on both.
"""

from __future__ import annotations

import json
from datetime import timedelta
from xml.etree import ElementTree as ET

import feedparser
import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audiobooks import feeds
from audiobooks.delivery.podcast import ITUNES, PODCAST
from audiobooks.models import Book, Conversion, ConversionChapter, PodcastFeed, StoredObject
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.storage.services import stored_object_save
from audiobooks.tests.factories import completed_conversion, story_book

pytestmark = pytest.mark.django_db

M4B = bytes(range(256)) * 64
MP3S = {1: b"ID3" + b"\x01" * 4000, 2: b"ID3" + b"\x02" * 5000}
DURATIONS = {1: 61_250, 2: 90_500}
VTT = {
    1: "WEBVTT\n\n00:00.750 --> 00:02.317\nThe Whale\n\n00:03.000 --> 00:05.500\nCall me Ishmael.\n",
    2: "WEBVTT\n\nNOTE made by eBookVoice\n\n00:00.750 --> 00:01.900 line:90%\nChapter two\n",
}


def _save(key, data, kind, book):
    stored_object_save(key=key, content=ContentFile(data), kind=kind, owner=book.owner, book=book)


def _converted(owner, directory, *, titles=("Loomings", "The Carpet-Bag", "The Spouter-Inn"), ready=(1, 2)):
    """A book whose newest conversion has the chapters ``ready`` (MP3, captions), and an M4B if all are."""
    book = story_book(owner, directory, titles=titles)
    conversion = completed_conversion(book)
    now = timezone.now()
    for position, chapter in enumerate(book.chapters.order_by("index")):
        number = position + 1
        is_ready = number in ready
        ConversionChapter.objects.create(
            conversion=conversion, chapter=chapter, position=position,
            status=ConversionChapter.Status.READY if is_ready else ConversionChapter.Status.RENDERING,
            gain_db=-1.5 if is_ready else None, duration_ms=DURATIONS.get(number) if is_ready else None,
            finished_at=now + timedelta(seconds=number) if is_ready else None,
        )  # fmt: skip
        if is_ready:
            ids = deliverable_ids(conversion)
            _save(storage_keys.mp3_key(**ids, number=number), MP3S[number], StoredObject.Kind.MP3, book)
            _save(
                storage_keys.captions_key(**ids, number=number),
                VTT[number].encode(),
                StoredObject.Kind.VTT,
                book,
            )
    if len(ready) == len(titles):
        _save(storage_keys.m4b_key(**deliverable_ids(conversion)), M4B, StoredObject.Kind.M4B, book)
    else:
        Conversion.objects.filter(pk=conversion.pk).update(
            status=Conversion.Status.SYNTHESIZING, finished_at=None, duration_ms=None
        )
    return book, conversion


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _feed_url(feed: PodcastFeed) -> str:
    return reverse("audiobooks:podcast-feed", kwargs={"token": feeds.feed_token(feed)})


def _fetch_feed(feed: PodcastFeed):
    response = Client().get(_feed_url(feed))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/rss+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    return parsed, ET.fromstring(response.content)  # noqa: S314 (our own server's document)


def _follow(storage, url: str, **headers: str):
    """What a podcast app does with an enclosure: GET it, follow the redirect, read the bytes."""
    response = Client().get(url, headers=headers)
    assert response.status_code == 302, response.content
    assert "no-store" in response["Cache-Control"]
    return storage.fetch("GET", response["Location"].removeprefix("http://testserver"), headers=headers)


def test_the_owners_feed_has_each_finished_audiobook_as_one_episode_that_plays(storage, owner, tmp_path):
    book, conversion = _converted(owner, tmp_path / "a", titles=("Loomings", "The Carpet-Bag"), ready=(1, 2))
    _converted(
        owner, tmp_path / "b", titles=("One", "Two", "Three"), ready=(1,)
    )  # still rendering: no episode
    feed = feeds.feed_create(user=owner)

    parsed, root = _fetch_feed(feed)
    assert parsed.version == "rss20"
    assert parsed.feed.title == "owner@example.com’s audiobooks"
    assert parsed.feed.itunes_block == 1  # kept out of podcast directories
    (entry,) = parsed.entries
    assert entry.title == book.display_title
    assert entry.id == str(conversion.uuid)
    assert entry.itunes_duration == "60"
    (enclosure,) = entry.enclosures
    assert (enclosure.type, int(enclosure.length)) == ("audio/mp4", len(M4B))
    assert enclosure.href.startswith("http://testserver/podcast/")
    assert enclosure.href.endswith("/book.m4b")

    status, headers, body = _follow(storage, enclosure.href)
    assert (status, body) == (200, M4B)
    status, headers, body = _follow(storage, enclosure.href, Range="bytes=100-355")
    assert (status, body) == (206, M4B[100:356])
    assert headers["Content-Range"] == f"bytes 100-355/{len(M4B)}"

    item = root.find("channel/item")
    assert item is not None
    chapters = item.find(f"{{{PODCAST}}}chapters")
    transcript = item.find(f"{{{PODCAST}}}transcript")
    assert chapters is not None
    assert transcript is not None
    assert chapters.get("type") == "application/json+chapters"
    marks = Client().get(chapters.get("url", "").removeprefix("http://testserver"))
    assert json.loads(marks.content) == {
        "version": "1.2.0",
        "chapters": [
            {"startTime": 0.0, "title": "Loomings"},
            {"startTime": 61.25, "title": "The Carpet-Bag"},
        ],
    }
    joined = Client().get(transcript.get("url", "").removeprefix("http://testserver")).getvalue()
    assert joined.decode() == (
        "WEBVTT\n\n00:00:00.750 --> 00:00:02.317\nThe Whale\n"
        "\n00:00:03.000 --> 00:00:05.500\nCall me Ishmael.\n"
        "\n00:01:02.000 --> 00:01:03.150 line:90%\nChapter two\n"
    )


def test_a_books_feed_has_each_ready_chapter_as_an_episode_while_the_rest_renders(storage, owner, tmp_path):
    book, conversion = _converted(owner, tmp_path, ready=(1, 2))
    feed = feeds.feed_create(user=owner, book_uuid=book.uuid)

    parsed, root = _fetch_feed(feed)
    assert parsed.feed.title == book.display_title
    assert root.findtext(f"channel/{{{ITUNES}}}type") == "serial"
    assert [entry.title for entry in parsed.entries] == ["Loomings", "The Carpet-Bag"]
    assert [entry.itunes_episode for entry in parsed.entries] == ["1", "2"]
    assert [entry.id for entry in parsed.entries] == [f"{conversion.uuid}/1", f"{conversion.uuid}/2"]
    second = parsed.entries[1].enclosures[0]
    assert (second.type, int(second.length)) == ("audio/mpeg", len(MP3S[2]))
    assert _follow(storage, second.href)[2] == MP3S[2]
    transcript = root.findall("channel/item")[0].find(f"{{{PODCAST}}}transcript")
    assert transcript is not None
    status, _headers, body = _follow(storage, transcript.get("url", ""))
    assert (status, body) == (200, VTT[1].encode())


def test_a_new_address_makes_the_old_one_a_404_and_switching_off_ends_the_feed(
    owner, tmp_path, local_storage
):
    _converted(owner, tmp_path, titles=("One",), ready=(1,))
    feed = feeds.feed_create(user=owner)
    old = _feed_url(feed)
    (enclosure,) = feedparser.parse(Client().get(old).content).entries[0].enclosures
    client = _client(owner)
    assert client.post(reverse("audiobooks:feed-renew", kwargs={"feed_uuid": feed.uuid})).status_code == 302
    assert Client().get(old).status_code == 404
    assert Client().get(enclosure.href).status_code == 404  # the episode links die with the token
    feed.refresh_from_db()
    assert Client().get(_feed_url(feed)).status_code == 200
    assert client.post(reverse("audiobooks:feed-revoke", kwargs={"feed_uuid": feed.uuid})).status_code == 302
    assert not PodcastFeed.objects.exists()
    assert Client().get(_feed_url(feed)).status_code == 404


def test_the_feeds_page_shows_the_address_and_its_qr_code_and_makes_feeds(owner, tmp_path, local_storage):
    book, _ = _converted(owner, tmp_path, titles=("One",), ready=(1,))
    client = _client(owner)
    page = client.get(reverse("audiobooks:feeds"))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert b"Make a feed of all my audiobooks" in page.content
    assert client.post(reverse("audiobooks:feed-new"), {"book": ""}).status_code == 302
    assert client.post(reverse("audiobooks:feed-new"), {"book": str(book.uuid)}).status_code == 302
    own, of_book = feeds.feeds_for_user(user=owner)
    assert (own.book, of_book.book) == (None, book)
    page = client.get(reverse("audiobooks:feeds"))
    assert f"http://testserver{_feed_url(own)}".encode() in page.content
    assert b"Every book you have already has a feed." in page.content
    qr = client.get(reverse("audiobooks:feed-qr", kwargs={"feed_uuid": own.uuid}))
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    assert ET.fromstring(qr.content).tag.endswith("svg")  # noqa: S314 (our own server's image)


def test_a_second_feed_of_the_same_kind_is_refused_with_409(owner, tmp_path, local_storage):
    book, _ = _converted(owner, tmp_path, titles=("One",), ready=(1,))
    client = _client(owner)
    client.post(reverse("audiobooks:feed-new"), {"book": str(book.uuid)})
    again = client.post(reverse("audiobooks:feed-new"), {"book": str(book.uuid)})
    assert again.status_code == 409
    assert "already has a podcast feed" in again.content.decode()
    client.post(reverse("audiobooks:feed-new"))
    again = client.post(reverse("audiobooks:feed-new"), HTTP_ACCEPT="application/json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "feed_exists")
    assert PodcastFeed.objects.count() == 2


@pytest.mark.parametrize("value", ["not-a-uuid", "1" * 400, "\u0661\u0662"])
def test_a_book_that_is_not_an_id_is_refused_with_400(owner, value):
    response = _client(owner).post(reverse("audiobooks:feed-new"), {"book": value})
    assert response.status_code == 400
    assert "Choose one of your books" in response.content.decode()
    assert not PodcastFeed.objects.exists()


def test_nobody_reaches_another_readers_feeds_or_books(owner, stranger, tmp_path, local_storage):
    book, conversion = _converted(owner, tmp_path / "a", titles=("One",), ready=(1,))
    other_book, other_conversion = _converted(stranger, tmp_path / "b", titles=("Theirs",), ready=(1,))
    feed = feeds.feed_create(user=owner)
    theirs = feeds.feed_create(user=stranger)
    client = _client(owner)
    # Their book: no feed of it for me.
    assert client.post(reverse("audiobooks:feed-new"), {"book": str(other_book.uuid)}).status_code == 404
    # Their feed: not mine to renew, end or show.
    for name in ("feed-renew", "feed-revoke"):
        assert (
            client.post(reverse(f"audiobooks:{name}", kwargs={"feed_uuid": theirs.uuid})).status_code == 404
        )
    assert client.get(reverse("audiobooks:feed-qr", kwargs={"feed_uuid": theirs.uuid})).status_code == 404
    # My token does not open their files, nor does a book's token open the book's M4B or another book.
    token = feeds.feed_token(feed)
    for name, kwargs in (
        ("podcast-m4b", {"conversion_uuid": other_conversion.uuid}),
        ("podcast-mp3", {"conversion_uuid": other_conversion.uuid, "number": 1}),
        ("podcast-chapters", {"conversion_uuid": other_conversion.uuid}),
        ("podcast-cover", {"book_uuid": other_book.uuid}),
    ):
        assert (
            Client().get(reverse(f"audiobooks:{name}", kwargs={"token": token, **kwargs})).status_code == 404
        )
    book_feed = feeds.feed_create(user=owner, book_uuid=book.uuid)
    assert (
        Client()
        .get(
            reverse(
                "audiobooks:podcast-m4b",
                kwargs={"token": feeds.feed_token(book_feed), "conversion_uuid": conversion.uuid},
            )
        )
        .status_code
        == 404
    )
    assert Client().get(reverse("audiobooks:podcast-feed", kwargs={"token": "x" * 43})).status_code == 404
    # Signed out, the feeds page asks to sign in.
    assert Client().get(reverse("audiobooks:feeds")).status_code == 302


def test_a_feed_goes_with_its_book(owner, tmp_path, local_storage):
    book, _ = _converted(owner, tmp_path, titles=("One",), ready=(1,))
    feed = feeds.feed_create(user=owner, book_uuid=book.uuid)
    Book.objects.filter(pk=book.pk).delete()
    assert Client().get(_feed_url(feed)).status_code == 404


def test_the_token_is_stored_only_as_a_hash_and_encrypted(owner):
    feed = feeds.feed_create(user=owner)
    token = feeds.feed_token(feed)
    assert len(token) >= 43
    row = PodcastFeed.objects.values().get()
    assert token not in json.dumps(row, default=str)
