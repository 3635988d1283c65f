"""`manage.py convert`, run for real: on the test workers, and as a newcomer runs it, with nothing running."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import load_command_class
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4

from accounts.models import User
from audiobooks.audio.testing import parse_vtt
from audiobooks.models import Book, Conversion, ConversionChapter
from audiobooks.operators.convert_job import OPERATOR_EMAIL
from audiobooks.pipeline.submit import conversion_cancel
from audiobooks.tests.ingest_fixtures import STORY_SENTENCES, EpubSpec, nav_list, story_epub, xhtml
from credits.models import CreditEntry, EntryKind, Plan
from credits.selectors import credit_balance_get, credit_plan_get
from credits.services import credits_grant_by_system
from ebookvoice.paths import BASE_DIR, corpus_dir
from ebookvoice.tests.settings_probe import clean_environ

TITLES = ("The Harbour", "The Storm", "Morning")
LATEST_CONVERSION = "SELECT status, operator_job FROM audiobooks_conversion ORDER BY id DESC LIMIT 1"
READY_IN_LATEST = (
    "SELECT count(*) FROM audiobooks_conversionchapter WHERE status = 'ready' "
    "AND conversion_id = (SELECT max(id) FROM audiobooks_conversion)"
)
JSON_KEYS = {"title", "chapters", "audio_seconds", "wall_seconds", "m4b", "mp3", "captions", "status"}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert "Traceback" not in self.stderr
        return lines[0]


def convert(capsys: pytest.CaptureFixture[str], *args: object) -> Run:
    """The command as manage.py runs it (exit status, CommandError as one stderr line), in this process."""
    capsys.readouterr()
    command = load_command_class("audiobooks", "convert")
    try:
        command.run_from_argv(["manage.py", "convert", *map(str, args)])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return Run(code, out, err)


def seconds(audio: MP3 | MP4) -> float:
    assert audio.info is not None
    return float(audio.info.length)


def assert_audiobook(result: dict[str, Any], out: Path) -> None:
    assert set(result) == JSON_KEYS
    assert (result["title"], result["status"], result["chapters"]) == ("The Lighthouse", "completed", 3)
    assert result["wall_seconds"] > 0
    m4b = Path(result["m4b"])
    assert m4b == out / "The Lighthouse.m4b"
    book = MP4(m4b)
    assert book.chapters is not None
    assert [chapter.title for chapter in book.chapters] == list(TITLES)
    assert seconds(book) == pytest.approx(result["audio_seconds"], abs=0.5)
    mp3s = [Path(path) for path in result["mp3"]]
    assert mp3s == [out / "mp3" / f"0{n} - {title}.mp3" for n, title in enumerate(TITLES, 1)]
    assert all(seconds(MP3(path)) > 1 for path in mp3s)
    assert sum(seconds(MP3(path)) for path in mp3s) == pytest.approx(seconds(book), abs=1.5)
    captions = [Path(path) for path in result["captions"]]
    assert captions == [out / "captions" / f"0{n}.vtt" for n in (1, 2, 3)]
    assert all(parse_vtt(path.read_text()) for path in captions)


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
class TestOnTheRunningWorkers:
    def test_an_operator_job_writes_the_audiobook_and_charges_no_one(self, capsys, tmp_path, celery_worker):
        epub = story_epub(tmp_path, titles=TITLES)
        run = convert(capsys, epub, "--json", "--out", tmp_path / "out")

        assert run.code == 0, run.stderr
        result = json.loads(run.stdout)  # the whole of stdout is the one object
        assert_audiobook(result, tmp_path / "out")
        assert run.stderr.splitlines()[-1].startswith("Converted 'The Lighthouse': 3 chapters, ")
        conversion = Conversion.objects.get()
        assert conversion.operator_job
        assert conversion.charge_hundredths == 0
        operator = conversion.owner
        assert (operator.email, operator.is_active, operator.is_staff) == (OPERATOR_EMAIL, False, False)
        assert not operator.has_usable_password()
        assert not CreditEntry.objects.exists()
        assert credit_plan_get(user=operator) == Plan.PREMIUM  # room for many books' deliverables

    def test_with_a_user_the_user_owns_the_book_and_pays_for_its_characters(
        self, capsys, tmp_path, owner, celery_worker
    ):
        credits_grant_by_system(user=owner, hundredths=300, reason="test")
        epub = story_epub(tmp_path, titles=TITLES)
        run = convert(
            capsys, epub, "--user", "Owner@Example.com", "--out", tmp_path / "out", "--speed", "1.2"
        )

        assert run.code == 0, run.stderr
        summary = run.stdout.strip()
        assert summary.startswith("Converted 'The Lighthouse': 3 chapters, "), run
        assert summary.endswith(f"x real time) -> {tmp_path / 'out' / 'The Lighthouse.m4b'}"), run
        conversion = Conversion.objects.get()
        assert (conversion.owner, conversion.operator_job, conversion.speed) == (owner, False, 1.2)
        assert conversion.book.owner == owner
        assert CreditEntry.objects.filter(user=owner, kind=EntryKind.CHARGE).count() == 1
        assert conversion.charge_hundredths == -(-conversion.characters // 500)
        assert credit_balance_get(user=owner) == 300 - conversion.charge_hundredths
        assert not User.objects.filter(email=OPERATOR_EMAIL).exists()

    def test_a_user_without_credits_is_refused_in_one_line_and_nothing_is_charged(
        self, capsys, tmp_path, owner, celery_worker
    ):
        epub = story_epub(tmp_path, titles=TITLES)
        run = convert(capsys, epub, "--user", owner.email, "--out", tmp_path / "out")

        assert run.code == 2
        assert re.fullmatch(
            r"CommandError: story\.epub: This conversion needs 0\.\d\d credits and you have 0\.00\.",
            run.error_line(),
        ), run.error_line()
        assert not Conversion.objects.exists()
        assert not CreditEntry.objects.exists()
        assert not (tmp_path / "out" / "mp3").exists()

    def test_a_file_that_cannot_be_read_is_refused_in_one_line(self, capsys, tmp_path, celery_worker):
        drm = corpus_dir() / "bad" / "probe_encrypted_chapter.epub"
        run = convert(capsys, drm, "--out", tmp_path)

        assert run.code == 2
        line = run.error_line()
        assert line.startswith("CommandError: probe_encrypted_chapter.epub: ")
        assert "DRM" in line or "encrypt" in line.lower()
        assert Book.objects.get().status == Book.Status.FAILED
        assert not Conversion.objects.exists()

    def test_a_conversion_cancelled_elsewhere_exits_1_and_keeps_the_finished_chapter(
        self, capsys, tmp_path, celery_worker
    ):
        # A short chapter and a long one: the short one is ready while the long one still renders.
        story = [" ".join(STORY_SENTENCES[:3]), " ".join(STORY_SENTENCES) * 3]
        documents = [
            (f"c{n}.xhtml", xhtml(f"<h1>{title}</h1><p>{text}</p>", title=title))
            for n, (title, text) in enumerate(zip(TITLES[:2], story, strict=True), 1)
        ]
        nav = nav_list([(title, f"c{n}.xhtml") for n, title in enumerate(TITLES[:2], 1)])
        epub = EpubSpec(documents=documents, nav=nav, title="Half Told").write(tmp_path, "half.epub")
        runs: list[Run] = []
        command = threading.Thread(
            target=lambda: runs.append(convert(capsys, epub, "--json", "--out", tmp_path / "out"))
        )
        command.start()
        try:
            deadline = time.monotonic() + 120
            while not ConversionChapter.objects.filter(status=ConversionChapter.Status.READY).exists():
                assert time.monotonic() < deadline, "no chapter was ready in time"
                time.sleep(0.2)
            conversion = Conversion.objects.get()
            conversion_cancel(user=conversion.owner, conversion_uuid=conversion.uuid)
        finally:
            command.join(timeout=120)

        [run] = runs
        assert run.code == 1
        out = tmp_path / "out"
        assert (
            run.error_line()
            == f"CommandError: The conversion was cancelled. 1 finished chapter(s) written to {out}."
        )
        result = json.loads(run.stdout)
        assert (result["status"], result["chapters"], result["m4b"]) == ("cancelled", 1, None)
        assert result["mp3"] == [str(out / "mp3" / "01 - The Harbour.mp3")]
        assert [path.name for path in (out / "mp3").iterdir()] == ["01 - The Harbour.mp3"]
        assert [path.name for path in (out / "captions").iterdir()] == ["01.vtt"]
        assert not list(out.glob("*.m4b"))


@pytest.mark.django_db(transaction=True)  # manage.py closes the connections as it ends
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--user", "nobody@example.com"],
            "--user nobody@example.com: there is no user with this email address",
        ),
        (["--voice", "piper:xx_XX-nobody"], "--voice piper:xx_XX-nobody: there is no such voice; "),
        (["--speed", "fast"], "--speed fast: the speed must be a number from 0.5 to 2.0"),
        (["--speed", "3"], "--speed 3: the speed must be a number from 0.5 to 2.0"),
    ],
)
def test_a_bad_option_is_refused_in_one_line_before_anything_starts(capsys, tmp_path, args, message):
    epub = story_epub(tmp_path, titles=TITLES)
    run = convert(capsys, epub, "--out", tmp_path / "out", *args)

    assert run.code == 2
    assert run.error_line().startswith(f"CommandError: {message}")
    assert not Book.objects.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.django_db(transaction=True)  # manage.py closes the connections as it ends
def test_a_missing_file_or_an_unsupported_type_is_refused_in_one_line(capsys, tmp_path):
    missing = convert(capsys, tmp_path / "nothing.epub")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    unsupported = convert(capsys, tmp_path / "notes.docx")

    assert (missing.code, unsupported.code) == (2, 2)
    assert missing.error_line() == f"CommandError: {tmp_path / 'nothing.epub'}: no such file"
    assert unsupported.error_line().startswith("CommandError: notes.docx: this file type isn't supported")


@pytest.mark.django_db(transaction=True)  # manage.py closes the connections as it ends
def test_an_inactive_user_is_refused(capsys, tmp_path):
    User.objects.create_user("gone@example.com", "pw", is_active=False)
    run = convert(capsys, story_epub(tmp_path, titles=TITLES), "--user", "gone@example.com")

    assert run.code == 2
    assert run.error_line() == "CommandError: --user gone@example.com: this account is inactive"


def processes_with(var_dir: Path) -> list[str]:
    """Every process whose environment names this var dir: whatever the command started inherits it."""
    found = []
    marker = f"EBOOKVOICE_VAR_DIR={var_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{proc.name}: {command}")
        except OSError:
            continue  # gone, or not ours to read
    return found


@pytest.fixture(scope="module")
def embedded_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One fresh var/ for both embedded runs: whichever runs first migrates it, as a first run does."""
    return tmp_path_factory.mktemp("embedded") / "var"


@pytest.mark.celery
def test_the_embedded_default_starts_redis_and_workers_migrates_and_leaves_nothing_running(
    tmp_path, embedded_var
):
    var_dir = embedded_var
    epub = story_epub(tmp_path, titles=TITLES)
    environ = clean_environ(
        var_dir, DJANGO_SETTINGS_MODULE="ebookvoice.settings.base", SYNTHESIS_PROCESSES="2"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "convert", str(epub), "--json", "--out", str(tmp_path / "out")],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
    )
    wall = time.monotonic() - started

    assert result.returncode == 0, result.stderr + _log(var_dir)
    output = json.loads(result.stdout)
    assert_audiobook(output, tmp_path / "out")
    print(f"embedded convert: {output['audio_seconds']:.1f} s of audio in {wall:.1f} s wall")
    assert rows(var_dir, LATEST_CONVERSION) == [("completed", 1)]
    assert rows(var_dir, "SELECT count(*) FROM credits_creditentry") == [(0,)]
    assert processes_with(var_dir) == []
    assert not (var_dir / "run" / "redis.sock").exists()


@pytest.mark.celery
def test_ctrl_c_cancels_the_embedded_conversion_and_stops_everything_it_started(tmp_path, embedded_var):
    var_dir = embedded_var
    epub = story_epub(tmp_path, titles=TITLES, paragraphs_per_chapter=12)
    environ = clean_environ(
        var_dir, DJANGO_SETTINGS_MODULE="ebookvoice.settings.base", SYNTHESIS_PROCESSES="1"
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "convert", str(epub), "--out", str(tmp_path / "out"), "-v", "2"],
        cwd=BASE_DIR,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, to be signalled as a terminal's Ctrl-C is
        preexec_fn=_take_ctrl_c_as_a_terminal_job_does,  # noqa: PLW1509
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # -v 2 without a terminal: a plain line whenever progress moves
            if parts := re.search(r"^synthesizing: .* parts (\d+)/(\d+)", line):
                # The state the test needs: the command is waiting on a conversion with work left.
                assert int(parts[1]) < int(parts[2]), f"finished before it could be interrupted: {line}"
                break
        else:
            pytest.fail(f"the conversion never started: {process.communicate()}")
        os.killpg(process.pid, signal.SIGINT)  # the whole foreground group, as a terminal does
        _, rest = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130
    last = rest.strip().splitlines()[-1]
    assert last.startswith("CommandError: Interrupted: the conversion is cancelled; "), rest
    assert rows(var_dir, LATEST_CONVERSION) == [("cancelled", 1)]
    finished = rows(var_dir, READY_IN_LATEST)[0][0]
    assert f"; {finished} finished chapter(s) written to " in last
    mp3_dir = tmp_path / "out" / "mp3"
    assert len(list(mp3_dir.iterdir()) if mp3_dir.exists() else []) == finished
    assert processes_with(var_dir) == []


def _take_ctrl_c_as_a_terminal_job_does() -> None:
    """Runs in the child before exec: SIGINT back to its default, so Python turns it into KeyboardInterrupt.

    A command started in the background by a non-interactive shell (``./dev test &``, many CI
    runners) ignores SIGINT, and that is inherited: without this the command ignored the signal,
    finished the book and exited 0.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def rows(var_dir: Path, query: str) -> list[tuple[object, ...]]:
    """Read the embedded database the command wrote (it is not the test database)."""
    with contextlib.closing(sqlite3.connect(var_dir / "db.sqlite3")) as database:
        return database.execute(query).fetchall()


def _log(var_dir: Path) -> str:
    log = var_dir / "run" / "convert-workers.log"
    return f"\n--- workers ---\n{log.read_text()[-4000:]}" if log.exists() else ""
