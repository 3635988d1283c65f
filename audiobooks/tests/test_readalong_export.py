"""The read-along EPUB of a book converted on real workers: valid by epubcheck, every sentence timed."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile

import pytest
from defusedxml import ElementTree
from django.test import Client
from django.urls import reverse
from mutagen.mp3 import MP3

from audiobooks.models import Conversion
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.tests.factories import story_book, wait_until_finished
from credits.services import credits_grant_by_system
from tests.needs import require_program
from tts_engine.registry import DEFAULT_VOICE

SMIL = "{http://www.w3.org/ns/SMIL}"
TITLES = ("The Harbour", "The Storm")


def _url(book) -> str:
    return reverse("audiobooks:book-readalong-epub", kwargs={"book_uuid": book.uuid})


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _seconds(clock: str) -> float:
    return float(clock.removesuffix("s"))


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_converted_book_exports_a_valid_epub_with_every_sentence_timed(owner, tmp_path, celery_worker):
    epubcheck = require_program("epubcheck")
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = story_book(owner, tmp_path / "book", titles=TITLES, paragraphs_per_chapter=2)
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1], voice_key=DEFAULT_VOICE, speed=1.0
    )
    assert wait_until_finished(conversion).status == Conversion.Status.COMPLETED

    client = _client(owner)
    head = client.head(_url(book))
    response = client.get(_url(book))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/epub+zip"
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert int(head["Content-Length"]) == int(response["Content-Length"]) == len(body)  # stated up front
    epub = tmp_path / "book.epub"
    epub.write_bytes(body)
    # Debian installs epubcheck as a jar, run by binfmt_misc where the kernel has it; java always works.
    checked = subprocess.run(
        ["java", "-jar", epubcheck, str(epub)], capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    archive = zipfile.ZipFile(io.BytesIO(body))
    first = archive.infolist()[0]
    assert (first.filename, first.compress_type, archive.read(first)) == (
        "mimetype",
        zipfile.ZIP_STORED,
        b"application/epub+zip",
    )
    package = archive.read("OEBPS/package.opf").decode()
    assert '<meta property="media:active-class">-epub-media-overlay-active</meta>' in package
    assert package.count('property="media:duration"') == 1 + len(TITLES)
    for number, title in enumerate(TITLES, start=1):
        name = f"chapter-{number:03d}"
        xhtml = archive.read(f"OEBPS/{name}.xhtml").decode()
        smil = ElementTree.fromstring(archive.read(f"OEBPS/smil/{name}.smil"))
        mp3 = tmp_path / f"{name}.mp3"
        mp3.write_bytes(archive.read(f"OEBPS/audio/{name}.mp3"))
        length = MP3(mp3).info.length  # type: ignore[attr-defined]
        pars = smil.findall(f".//{SMIL}par")
        spans = re.findall(r'<span id="(s\d+)">', xhtml)
        assert title in xhtml
        assert len(pars) == len(spans) > 4  # the title and every sentence of two paragraphs
        previous_end = 0.0
        for par, span in zip(pars, spans, strict=True):
            text = par.find(f"{SMIL}text")
            audio = par.find(f"{SMIL}audio")
            assert text is not None
            assert audio is not None
            assert text.get("src") == f"../{name}.xhtml#{span}"
            begin, end = _seconds(audio.get("clipBegin", "")), _seconds(audio.get("clipEnd", ""))
            assert previous_end - 0.001 <= begin < end <= length + 0.05  # in order, inside the chapter's MP3
            previous_end = end


@pytest.mark.django_db
def test_a_book_with_nothing_ready_is_refused_and_anothers_is_not_found(owner, stranger, tmp_path):
    book = story_book(owner, tmp_path, titles=("One",))
    nothing = _client(owner).get(_url(book))
    assert nothing.status_code == 409
    assert "no finished chapters yet" in nothing.content.decode()
    as_json = _client(owner).get(_url(book), HTTP_ACCEPT="application/json")
    assert (as_json.status_code, as_json.json()["error"]["code"]) == (409, "nothing_to_export")
    assert _client(stranger).get(_url(book)).status_code == 404
