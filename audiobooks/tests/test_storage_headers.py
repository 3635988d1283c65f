"""Headers, keys and ranges: the small pure functions the storage layer is built from."""

from __future__ import annotations

import uuid

import pytest

from audiobooks.storage import keys as storage_keys
from audiobooks.storage.headers import ascii_fallback, content_disposition, content_type_for
from audiobooks.storage.ranges import RangeNotSatisfiable, parse_range

USER, BOOK, CONVERSION = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)


def test_an_ascii_filename_is_quoted_and_also_given_as_utf8():
    assert content_disposition("Moby Dick.m4b") == (
        "attachment; filename=\"Moby Dick.m4b\"; filename*=UTF-8''Moby%20Dick.m4b"
    )


def test_a_unicode_filename_gets_an_ascii_fallback_and_the_exact_name_percent_encoded():
    header = content_disposition("Крейцерова соната – Толстой.mp3", disposition="inline")
    assert header.startswith('inline; filename="')
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii()
    assert fallback.endswith(".mp3")
    assert "filename*=UTF-8''%D0%9A%D1%80%D0%B5%D0%B9" in header


def test_accents_are_dropped_not_replaced_in_the_fallback():
    assert ascii_fallback("Les Misérables – tome 1.epub") == "Les Miserables _ tome 1.epub"


@pytest.mark.parametrize(
    "hostile",
    ['a"b.mp3', "a\\b.mp3", "../../etc/passwd", "evil\r\nSet-Cookie: x=1.mp3", "a;b=c.mp3", "%2e%2e.mp3"],
)
def test_a_hostile_filename_cannot_break_out_of_the_header(hostile):
    header = content_disposition(hostile)
    assert "\r" not in header
    assert "\n" not in header
    fallback = header.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert not set(fallback) & set('"\\/;%')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert not set(encoded) & set(" \"\\/;'")


def test_a_name_with_nothing_safe_left_falls_back_to_download():
    assert ascii_fallback("日本語.epub") == "download.epub"
    assert ascii_fallback("...") == "download"


@pytest.mark.parametrize(
    ("key", "content_type"),
    [
        ("users/u/books/b/book.m4b", "audio/mp4"),
        ("users/u/books/b/mp3/01.mp3", "audio/mpeg"),
        ("users/u/books/b/captions/01.vtt", "text/vtt; charset=utf-8"),
        ("users/u/books/b/cover.jpg", "image/jpeg"),
        ("users/u/uploads/x.epub", "application/epub+zip"),
        ("parts/abc.flac", "audio/flac"),
        ("whatever.bin", "application/octet-stream"),
    ],
)
def test_each_kind_of_object_has_its_content_type(key, content_type):
    assert content_type_for(key) == content_type


def test_deliverable_keys_live_in_their_conversions_folder_inside_the_books():
    ids = {"user_uuid": USER, "book_uuid": BOOK, "conversion_uuid": CONVERSION}
    prefix = f"users/{USER}/books/{BOOK}/conversions/{CONVERSION}/"
    assert storage_keys.m4b_key(**ids) == prefix + "book.m4b"
    assert storage_keys.mp3_key(**ids, number=3) == prefix + "mp3/03.mp3"
    assert storage_keys.mp3_key(**ids, number=120) == prefix + "mp3/120.mp3"
    assert storage_keys.captions_key(**ids, number=3) == prefix + "captions/03.vtt"
    with pytest.raises(ValueError, match="start at 1"):
        storage_keys.mp3_key(**ids, number=0)


def test_a_part_key_is_its_content_address_and_nothing_else():
    digest = storage_keys.part_digest(engine="piper", voice="joe", speed=1.0, text="Call me Ishmael.")
    assert digest == storage_keys.part_digest(
        engine="piper", voice="joe", speed="1.0", text="Call me Ishmael."
    )
    assert digest != storage_keys.part_digest(engine="piper", voice="joe", speed=1.1, text="Call me Ishmael.")
    assert storage_keys.part_digest(engine="a", voice="bc", speed=1, text="") != storage_keys.part_digest(
        engine="ab", voice="c", speed=1, text=""
    )
    assert storage_keys.part_key(digest=digest) == f"parts/{digest}.flac"
    with pytest.raises(ValueError, match="sha256"):
        storage_keys.part_key(digest="../../users/x")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-5", (95, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=0-0", (0, 0)),
        ("bytes=5-2", None),  # invalid: ignored, the whole file is sent
        ("bytes=0-1,5-6", None),  # several ranges: the whole file is a valid answer
        ("items=0-9", None),
        ("bytes=-", None),
    ],
)
def test_a_range_header_is_read_as_rfc_9110_says(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=200-300", 100), ("bytes=-0", 100), ("bytes=-5", 0)]
)
def test_a_range_past_the_end_cannot_be_satisfied(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)
