# mypy: disable-error-code="attr-defined,union-attr,operator,index"
# (mutagen types every file's info and tags as Optional; these tests read files the export just wrote.)
"""The ACX export: real conversions on real workers, downloaded through the view, checked as ACX would."""

from __future__ import annotations

import io
import re
import subprocess
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode

from accounts.models import User
from audiobooks.audio.master import HEAD_MS, TAIL_MS, measure_loudness
from audiobooks.audio.testing import read_wav
from audiobooks.delivery.acx import EXPIRED_MESSAGE, NOTHING_MESSAGE, sentence_spans
from audiobooks.models import Book, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.pipeline.render import cached_part_key
from audiobooks.pipeline.sources import PartsMissing
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.selectors import storage_used_bytes
from audiobooks.storage import backend
from audiobooks.storage.lifecycle import purge_expired
from audiobooks.tests.factories import ingest_now, upload_file
from audiobooks.tests.ingest_fixtures import story_epub
from audiobooks.tests.test_pipeline_worker import wait_until_finished
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE
from tts_engine.speech import SentenceTiming

SILENT = 10 ** (-60 / 20) * 32768  # ACX's noise floor, in 16-bit sample units


# --- Helpers ---------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path, settings) -> Path:
    """Where the export keeps its working files, to watch them come and go."""
    path = tmp_path / "export-work"
    path.mkdir()
    settings.EXPORTS_WORK_DIR = str(path)
    return path


def ready_book(owner: User, directory: Path, *, titles: tuple[str, ...], paragraphs: int = 2) -> Book:
    book = upload_file(owner, story_epub(directory, titles=titles, paragraphs_per_chapter=paragraphs))
    book = ingest_now(book)
    assert book.status == Book.Status.READY, book.error_message
    return book


def converted(owner: User, directory: Path, *, titles: tuple[str, ...], paragraphs: int = 2) -> Conversion:
    """A completed conversion of every chapter of a small generated EPUB, on the real workers."""
    credits_grant_by_system(user=owner, hundredths=1000, reason="test")
    book = ready_book(owner, directory, titles=titles, paragraphs=paragraphs)
    conversion = conversion_submit(
        user=owner,
        book_uuid=book.uuid,
        chapter_indexes=list(range(len(titles))),
        voice_key=DEFAULT_VOICE,
        speed=1.0,
    )
    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    return conversion


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(book: Book) -> str:
    return reverse("audiobooks:book-acx-zip", kwargs={"book_uuid": book.uuid})


def _stored() -> tuple[int, set[str]]:
    keys = {info.key for prefix in ("users/", "parts/") for info in backend.objects_under(prefix)}
    return StoredObject.objects.count(), keys


def _astats(path: Path) -> tuple[float, float]:
    """Overall (RMS level dB, peak level dB) of ``path`` by ffmpeg's ``astats``."""
    done = subprocess.run(
        [django_settings.FFMPEG_BINARY, "-hide_banner", "-nostdin", "-i", str(path),
         "-af", "astats=metadata=0", "-f", "null", "-"],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    overall = done.stderr.rsplit("Overall", 1)[-1]
    rms = re.search(r"RMS level dB:\s*(-?[\d.]+)", overall)
    peak = re.search(r"Peak level dB:\s*(-?[\d.]+)", overall)
    assert rms, done.stderr[-2000:]
    assert peak, done.stderr[-2000:]
    return float(rms.group(1)), float(peak.group(1))


def _decoded(path: Path) -> tuple[int, np.ndarray]:
    wav = path.with_suffix(".wav")
    subprocess.run(
        [django_settings.FFMPEG_BINARY, "-hide_banner", "-nostdin", "-y", "-i", str(path),
         "-c:a", "pcm_s16le", str(wav)],
        capture_output=True, check=True,
    )  # fmt: skip
    return read_wav(wav)


def _silence_at_ends_s(path: Path) -> tuple[float, float]:
    """Seconds of silence (under -60 dBFS) at the head and the tail of an MP3."""
    rate, samples = _decoded(path)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENT)
    assert loud.size, "the file is all silence"
    return loud[0] / rate, (samples.size - 1 - loud[-1]) / rate


def _download(client: Client, book: Book, workdir: Path) -> tuple[zipfile.ZipFile, int, int]:
    """The export's zip, read as it streams; with its size and the most chapter folders seen at once."""
    response = client.get(_url(book))
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    body, most_folders = bytearray(), 0
    for chunk in response.streaming_content:
        assert not connection.in_atomic_block, "no transaction is held open while the zip streams"
        body += chunk
        folders = [path for path in workdir.rglob("chapter-*") if path.is_dir()]
        most_folders = max(most_folders, len(folders))
    response.close()
    archive = zipfile.ZipFile(io.BytesIO(bytes(body)))
    assert archive.testzip() is None
    return archive, len(body), most_folders


# --- Journeys ----------------------------------------------------------------------------------


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_each_ready_chapter_comes_as_a_tagged_44k1_192k_cbr_mono_mp3_at_acx_levels(
    owner, tmp_path, workdir, celery_worker
):
    conversion = converted(owner, tmp_path, titles=("The Harbour", "The Storm", "Morning"))
    book = conversion.book
    before, used = _stored(), storage_used_bytes(user=owner)

    archive, _, most_folders = _download(_client(owner), book, workdir)

    conversion_chapters = list(conversion.selections.select_related("chapter").order_by("position"))
    assert archive.namelist() == [f"{s.number:02d} - {s.chapter.title}.mp3" for s in conversion_chapters]
    for track, (name, conversion_chapter) in enumerate(
        zip(archive.namelist(), conversion_chapters, strict=True), start=1
    ):
        path = tmp_path / f"{track}.mp3"
        path.write_bytes(archive.read(name))
        mp3 = MP3(path)
        assert (mp3.info.sample_rate, mp3.info.channels) == (44100, 1)
        assert mp3.info.bitrate == pytest.approx(192_000, abs=100)
        assert mp3.info.bitrate_mode == BitrateMode.CBR
        assert mp3.info.length == pytest.approx(conversion_chapter.duration_ms / 1000, abs=0.1)
        id3 = ID3(path)
        assert str(id3["TIT2"]) == conversion_chapter.chapter.title
        assert str(id3["TALB"]) == book.display_title
        assert str(id3["TPE1"])
        assert str(id3["TRCK"]) == f"{track}/3"
        assert str(id3["TCON"]) == "Audiobook"
        rms, peak = _astats(path)
        assert -23.0 <= rms <= -18.0, name
        assert peak <= -3.0, name
        assert measure_loudness(path, true_peak=True).true_peak_dbfs <= -3.0
        head, tail = _silence_at_ends_s(path)
        assert head >= 0.5, "room tone at the head"
        assert tail >= 1.0, "room tone at the tail"

    assert (_stored(), storage_used_bytes(user=owner)) == (before, used), "nothing was stored"
    assert most_folders == 1, "one chapter's working files at a time"
    assert not any(workdir.iterdir()), "no working file is left"


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_chapter_over_the_file_limit_is_cut_between_sentences_into_pieces_each_with_room_tone(
    owner, tmp_path, workdir, settings, celery_worker
):
    conversion = converted(owner, tmp_path, titles=("The Long Night",), paragraphs=4)
    (conversion_chapter,) = conversion.selections.select_related("chapter")
    settings.EXPORTS_ACX_MAX_FILE_MS = 12_000
    assert conversion_chapter.duration_ms > 2 * 12_000, "long enough for three pieces"

    archive, _, _ = _download(_client(owner), conversion.book, workdir)

    names = archive.namelist()
    assert len(names) >= 3
    assert names == [f"01-{n} - The Long Night.mp3" for n in range(1, len(names) + 1)]
    total = 0.0
    for piece, name in enumerate(names, start=1):
        path = tmp_path / f"piece-{piece}.mp3"
        path.write_bytes(archive.read(name))
        mp3 = MP3(path)
        assert mp3.info.length <= 12.0
        assert (mp3.info.sample_rate, mp3.info.bitrate_mode) == (44100, BitrateMode.CBR)
        assert str(ID3(path)["TIT2"]) == f"The Long Night (part {piece} of {len(names)})"
        total += mp3.info.length - (HEAD_MS + TAIL_MS) / 1000
        head, tail = _silence_at_ends_s(path)
        # Every piece has the full room tone; a cut in the pause between two sentences adds to it.
        assert head >= HEAD_MS / 1000 - 0.03
        assert tail >= TAIL_MS / 1000 - 0.05
        if piece > 1:
            assert head > HEAD_MS / 1000 + 0.03, "the piece starts in a pause, not in a word"
        if piece < len(names):
            assert tail > TAIL_MS / 1000 + 0.03, "the piece ends in a pause, not in a word"
        _, peak = _astats(path)
        assert peak <= -3.0
    assert total == pytest.approx(
        (conversion_chapter.duration_ms - HEAD_MS - TAIL_MS) / 1000, abs=0.1 * len(names)
    )


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_another_users_acx_export_is_a_404_for_a_stranger_and_for_staff(
    owner, stranger, staff, tmp_path, workdir
):
    conversion = converted(owner, tmp_path, titles=("Alone",))
    head = _client(owner).head(_url(conversion.book))
    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Disposition"].startswith('attachment; filename="The Lighthouse (ACX).zip"')
    assert not any(workdir.iterdir()), "HEAD builds nothing"

    assert _client(stranger).get(_url(conversion.book)).status_code == 404
    assert _client(staff).get(_url(conversion.book)).status_code == 404
    anonymous = Client().get(_url(conversion.book))
    assert anonymous.status_code == 302
    assert "login" in anonymous["Location"]


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_book_with_no_ready_chapter_gets_a_409_that_says_to_convert_it(owner, tmp_path, celery_worker):
    credits_grant_by_system(user=owner, hundredths=1000, reason="test")
    book = ready_book(owner, tmp_path, titles=("Never Read",))
    client = _client(owner)

    page = client.get(_url(book))
    assert page.status_code == 409
    assert NOTHING_MESSAGE in page.content.decode()
    assert "no-store" in page["Cache-Control"]

    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE, speed=1.0
    )
    conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
    assert not conversion.selections.filter(status=ConversionChapter.Status.READY).exists()
    reply = client.get(_url(book), HTTP_ACCEPT="application/json")
    assert reply.status_code == 409
    assert reply.json() == {"error": {"code": "nothing_to_export", "message": NOTHING_MESSAGE}}


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_purged_parts_make_the_export_a_409_that_says_to_convert_again(owner, tmp_path, celery_worker):
    conversion = converted(owner, tmp_path, titles=("Fading",))
    StoredObject.objects.filter(kind=StoredObject.Kind.PART).update(
        created_at=timezone.now() - timedelta(days=30)
    )
    # The book's current audiobook keeps its Parts past the purge (selectors.part_keys_in_use);
    # once a newer conversion of the book completes (here: made so by hand), they go with their age.
    assert purge_expired().parts_in_use >= 1
    newer = Conversion.objects.get(pk=conversion.pk)
    newer.pk, newer.uuid, newer.idempotency_key = None, uuid.uuid4(), ""
    newer.created_at = timezone.now()
    newer.save()
    assert purge_expired().parts.count >= 1
    Conversion.objects.filter(pk=newer.pk).delete()
    before = _stored()

    reply = _client(owner).get(_url(conversion.book) + "?format=json")
    page = _client(owner).get(_url(conversion.book))

    assert reply.status_code == 409
    assert reply.json() == {"error": {"code": "export_audio_expired", "message": EXPIRED_MESSAGE}}
    assert page.status_code == 409
    assert "Convert the book again" in page.content.decode()
    assert _stored() == before


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_part_deleted_behind_the_apps_back_breaks_the_download_rather_than_leave_a_chapter_out(
    owner, tmp_path, workdir, celery_worker
):
    conversion = converted(owner, tmp_path, titles=("First", "Second"))
    second = conversion.selections.get(position=1)
    part = Part.objects.filter(conversion=conversion, chapter_id=second.chapter_id).first()
    backend.objects_delete([cached_part_key(part.cache_key)])  # its row stays: only the stream can tell

    response = _client(owner).get(_url(conversion.book))
    assert response.status_code == 200
    with pytest.raises(PartsMissing):
        b"".join(response.streaming_content)

    assert not any(workdir.iterdir()), "no working file is left"


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_cancelled_conversion_exports_only_its_ready_chapters(owner, tmp_path, workdir, celery_worker):
    credits_grant_by_system(user=owner, hundredths=2000, reason="test")
    titles = ("One", "Two", "Three", "Four", "Five", "Six")
    book = ready_book(owner, tmp_path, titles=titles)
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=list(range(6)), voice_key=DEFAULT_VOICE, speed=1.0
    )
    ready = conversion.selections.filter(status=ConversionChapter.Status.READY)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert time.monotonic() < deadline, "no chapter became ready"
        time.sleep(0.2)
    conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
    # A chapter already being mastered still finishes; wait until none is.
    mastering = conversion.selections.filter(status=ConversionChapter.Status.MASTERING)
    while mastering.exists():
        assert time.monotonic() < deadline, "a chapter stayed in mastering"
        time.sleep(0.2)
    numbers = list(ready.order_by("position").values_list("position", flat=True))
    assert 0 < len(numbers) < 6

    archive, _, _ = _download(_client(owner), book, workdir)

    assert archive.namelist() == [f"{p + 1:02d} - {titles[p]}.mp3" for p in numbers]


# --- Cutting between sentences ------------------------------------------------------------------


def _sentences(*spans: tuple[int, int]) -> list[SentenceTiming]:
    return [SentenceTiming(start, end, "A sentence.") for start, end in spans]


def test_a_chapter_under_the_limit_is_one_span():
    assert sentence_spans(9_000, _sentences((0, 4_000), (4_500, 9_000)), max_ms=10_000) == [(0, 9_000)]


def test_cuts_move_to_the_middle_of_the_nearest_pause_between_sentences():
    sentences = _sentences((0, 4_000), (4_400, 9_000), (9_600, 14_000), (14_200, 19_000))
    assert sentence_spans(19_000, sentences, max_ms=10_000) == [(0, 9_300), (9_300, 19_000)]


def test_pieces_are_as_even_as_the_pauses_allow_not_full_then_short():
    sentences = _sentences(*[(start, start + 800) for start in range(0, 20_000, 1_000)])
    assert sentence_spans(20_000, sentences, max_ms=15_000) == [(0, 9_900), (9_900, 20_000)]


def test_a_cut_is_never_made_inside_a_sentence_even_if_that_takes_one_more_piece():
    sentences = _sentences((0, 5_000), (5_400, 14_000), (14_200, 19_000))
    assert sentence_spans(19_000, sentences, max_ms=10_000) == [(0, 5_200), (5_200, 14_100), (14_100, 19_000)]


def test_a_sentence_longer_than_a_piece_makes_equal_pieces_cut_where_they_fall():
    sentences = _sentences((0, 4_000), (4_500, 19_000))
    assert sentence_spans(19_000, sentences, max_ms=10_000) == [(0, 9_500), (9_500, 19_000)]
