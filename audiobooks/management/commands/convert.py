"""`manage.py convert FILE`: an ebook in, an audiobook out, through the same pipeline as the web app."""

from __future__ import annotations

import json
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path, PurePath
from types import FrameType
from typing import Any, NoReturn

from django.conf import settings
from django.core.files import File
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from accounts.models import User
from audiobooks.errors import BookError, ConversionNotCancellable
from audiobooks.models import Conversion
from audiobooks.operators import convert_job as cli
from audiobooks.pipeline.progress import ConversionProgress, conversion_progress, elapsed_label, eta_clock
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.services import book_create_from_upload
from audiobooks.storage import keys as storage_keys
from credits.errors import CreditsError
from ebookvoice.logs import logging_for_command
from ebookvoice.paths import var_dir
from ebookvoice.workers import Workers, WorkersUnavailable, broker_for_command, workers_for_command
from tts_engine.engines.base import EngineError
from tts_engine.registry import DEFAULT_VOICE, get_voice
from tts_engine.speech import validate_speed

# Exit statuses: 1 the conversion ran and did not complete (or could not run here);
# 2 the input or the account cannot be used (as argparse and inspect_book use 2).
NOT_COMPLETED, BAD_INPUT, INTERRUPTED = 1, 2, 130
# The status is read this often, so the command ends soon after the conversion does; the
# progress (a few aggregate queries) is redrawn once a second.
POLL_S = 0.2
PROGRESS_EVERY_S = 1.0


class Command(BaseCommand):
    help = (
        "Convert an EPUB, PDF, TXT or HTML file into an audiobook through the real pipeline: upload, "
        "ingestion on the light queue, conversion_submit, synthesis workers, mastering and assembly. "
        "Converts the chapters the web page selects by default (front and back matter left out). "
        "Writes DIR/<title>.m4b, DIR/mp3/'NN - <chapter title>.mp3' and DIR/captions/NN.vtt. "
        "Uses the Celery workers already consuming both queues on the configured broker (production, "
        "or ./dev up); when there are none it starts beat, a synthesis worker (one process per core, "
        "SYNTHESIS_PROCESSES) and a light worker (one process per synthesis process, 2 to 8), plus a "
        "private Redis under var/run for the embedded "
        "default, and stops them when it ends, on Ctrl-C too. The embedded SQLite database is migrated "
        "on first use; any other database must be migrated first. With --user EMAIL that user owns the "
        "book and is charged like a web submission; without it, it is an operator job: owned by "
        f"{cli.OPERATOR_EMAIL} (inactive, cannot sign in), recorded as such, never charged. A "
        "progress bar with ETA goes to stderr when stderr is a terminal (-v 2: plain progress lines "
        "otherwise). --json prints one JSON object to stdout: title, chapters, audio_seconds, "
        "wall_seconds, m4b, mp3, captions, status. Ends with a one-line summary (on stderr with "
        "--json). Exit status: 0 completed; 1 failed or cancelled (the finished chapters are still "
        "written) or no workers; 2 unusable input: no such file or user, unknown voice, bad speed, "
        "a file that cannot be read (DRM, damaged), insufficient credits; 130 Ctrl-C, which cancels "
        "the conversion and writes the finished chapters."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the ebook to convert")
        parser.add_argument(
            "--voice", metavar="ID", default=DEFAULT_VOICE, help=f"voice key (default {DEFAULT_VOICE})"
        )
        # A string, checked in handle: a bad speed is one line on stderr, not argparse's usage dump.
        parser.add_argument("--speed", metavar="X", default="1.0", help="0.5 to 2.0 (default 1.0)")
        parser.add_argument(
            "--out", metavar="DIR", type=Path, default=Path("."), help="where to write (default: here)"
        )
        parser.add_argument("--user", metavar="EMAIL", help="charge this user (default: operator job)")
        parser.add_argument("--json", action="store_true", help="print one JSON object to stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        verbosity = int(options["verbosity"])
        with _interrupt_on_sigterm(), logging_for_command(verbosity):
            try:
                self._convert(options, started=started, verbosity=verbosity)
            except KeyboardInterrupt:
                raise CommandError("Interrupted.", returncode=INTERRUPTED) from None
            except WorkersUnavailable as error:
                raise CommandError(error.message, returncode=NOT_COMPLETED) from None

    def _convert(self, options: dict[str, Any], *, started: float, verbosity: int) -> None:
        path: Path = options["file"]
        if not path.is_file():
            _refuse(f"{path}: no such file")
        if PurePath(path).suffix.lower().lstrip(".") not in storage_keys.UPLOAD_EXTENSIONS:
            _refuse(f"{path.name}: this file type isn't supported; give an EPUB, PDF, TXT or HTML file")
        try:
            speed = validate_speed(options["speed"])
        except (TypeError, ValueError):
            _refuse(f"--speed {options['speed']}: the speed must be a number from 0.5 to 2.0")
        try:
            voice_key = get_voice(options["voice"]).key
        except (EngineError, LookupError, ValueError):
            _refuse(f"--voice {options['voice']}: there is no such voice; `manage.py voices` lists them")
        display = _Display(self, verbosity=verbosity)
        with display, broker_for_command() as broker:
            # Inside: migrate writes to the cache, which is the broker's Redis.
            self._database_ready(display)
            user = _user(options["user"]) if options["user"] is not None else None
            out_dir: Path = options["out"].expanduser().resolve()
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                _refuse(f"--out {options['out']}: {error.strerror or error}")
            owner = user or cli.operator_account_ensure()
            display.stage(f"Starting workers for {path.name}")
            with workers_for_command(
                broker, synthesis_processes=int(settings.PIPELINE_SYNTHESIS_PROCESSES), say=display.note
            ) as workers:
                display.note(f"Converting {workers.description}.")
                conversion = self._submit(
                    path, owner=owner, voice_key=voice_key, speed=speed, workers=workers, display=display
                )
                try:
                    conversion = _wait_until_finished(conversion, workers, display)
                except KeyboardInterrupt:
                    self._interrupted(conversion, owner, out_dir)
                written = cli.deliverables_write(conversion, out_dir)
        self._report(
            conversion, written, out_dir, json_output=options["json"], started=started, verbosity=verbosity
        )

    def _database_ready(self, display: _Display) -> None:
        """Migrate the embedded SQLite database on first use; refuse any other database that needs it."""
        executor = MigrationExecutor(connection)
        if not executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return
        name = Path(str(connection.settings_dict["NAME"]))
        if connection.vendor == "sqlite" and name.resolve() == (var_dir() / "db.sqlite3").resolve():
            display.stage("Setting up the local database")
            call_command("migrate", interactive=False, verbosity=0)
            return
        raise CommandError(
            "The database has migrations that are not applied: run `python manage.py migrate` first.",
            returncode=NOT_COMPLETED,
        )

    def _submit(
        self, path: Path, *, owner: User, voice_key: str, speed: float, workers: Workers, display: _Display
    ) -> Conversion:
        try:
            display.stage(f"Reading {path.name}")
            with path.open("rb") as handle:
                book = book_create_from_upload(owner=owner, upload=File(handle), filename=path.name)
            book = cli.book_wait_until_read(book, check=workers.check)
            display.note(f"Read '{book.display_title}'.")
            return conversion_submit(
                user=owner,
                book_uuid=book.uuid,
                chapter_indexes=cli.chapters_to_convert(book),
                voice_key=voice_key,
                speed=speed,
                operator_job=owner.email == cli.OPERATOR_EMAIL,  # --user never names it: it is inactive
            )
        except (BookError, CreditsError) as error:
            _refuse(f"{path.name}: {error.message}")

    def _interrupted(self, conversion: Conversion, owner: User, out_dir: Path) -> NoReturn:
        try:
            conversion = conversion_cancel(user=owner, conversion_uuid=conversion.uuid)
        except ConversionNotCancellable:
            conversion.refresh_from_db()
        written = cli.deliverables_write(conversion, out_dir)
        raise CommandError(
            f"Interrupted: the conversion is {conversion.get_status_display().lower()}; "
            f"{len(written.mp3)} finished chapter(s) written to {out_dir}.",
            returncode=INTERRUPTED,
        )

    def _report(
        self,
        conversion: Conversion,
        written: cli.Written,
        out_dir: Path,
        *,
        json_output: bool,
        started: float,
        verbosity: int,
    ) -> None:
        wall = time.monotonic() - started
        audio = written.audio_ms / 1000
        title = conversion.book.display_title
        if json_output:
            self.stdout.write(
                json.dumps(
                    {
                        "title": title,
                        "chapters": len(written.mp3),
                        "audio_seconds": round(audio, 3),
                        "wall_seconds": round(wall, 3),
                        "m4b": str(written.m4b) if written.m4b else None,
                        "mp3": [str(mp3) for mp3 in written.mp3],
                        "captions": [str(vtt) for vtt in written.captions],
                        "status": conversion.status,
                    },
                    ensure_ascii=False,
                )
            )
        if conversion.status != Conversion.Status.COMPLETED:
            if conversion.status == Conversion.Status.FAILED:
                outcome = f"The conversion failed: {conversion.error_message.rstrip('.')}."
            else:
                outcome = "The conversion was cancelled."
            raise CommandError(
                f"{outcome} {len(written.mp3)} finished chapter(s) written to {out_dir}.",
                returncode=NOT_COMPLETED,
            )
        summary = (
            f"Converted '{title}': {len(written.mp3)} chapters, {elapsed_label(audio)} of audio "
            f"in {elapsed_label(wall)} ({audio / wall:.1f}x real time) -> {written.m4b}"
        )
        if not json_output:
            self.stdout.write(summary)
        elif verbosity > 0:  # stdout is the JSON's alone; -v 0 keeps stderr for errors
            self.stderr.write(summary)


def _refuse(message: str) -> NoReturn:
    raise CommandError(message, returncode=BAD_INPUT)


def _user(email: str) -> User:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        _refuse(f"--user {email}: there is no user with this email address")
    if not user.is_active:
        _refuse(f"--user {email}: this account is inactive")
    return user


def _wait_until_finished(conversion: Conversion, workers: Workers, display: _Display) -> Conversion:
    next_progress = 0.0
    while True:
        conversion.refresh_from_db()
        if conversion.status in Conversion.FINISHED or time.monotonic() >= next_progress:
            display.progress(conversion_progress(conversion))
            next_progress = time.monotonic() + PROGRESS_EVERY_S
        if conversion.status in Conversion.FINISHED:
            return conversion
        workers.check()
        time.sleep(POLL_S)


class _Display:
    """Progress on stderr: a live bar on a terminal, plain lines at -v 2 elsewhere, nothing at -v 0."""

    def __init__(self, command: BaseCommand, *, verbosity: int) -> None:
        self._command = command
        self._console = Console(stderr=True)
        self._live = verbosity > 0 and self._console.is_terminal
        self._plain = verbosity > 1 and not self._live
        self._last_line = ""
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[detail]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> _Display:
        if self._live:
            self._bar.start()
            self._task = self._bar.add_task("Starting", total=None, detail="", eta=eta_clock(None))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._bar.stop()

    def note(self, line: str) -> None:
        if self._live:
            self._console.print(line, highlight=False, markup=False)
        elif self._plain:
            self._command.stderr.write(line)

    def stage(self, description: str) -> None:
        if self._task is not None:
            self._bar.update(self._task, description=description, total=None)
        elif self._plain:
            self._command.stderr.write(f"{description}…")

    def progress(self, progress: ConversionProgress) -> None:
        detail = (
            f"parts {progress.parts_done}/{progress.parts_total} · "
            f"chapters {progress.chapters_ready}/{progress.chapters_total}"
        )
        eta = eta_clock(progress.eta_seconds)
        if self._task is not None:
            self._bar.update(
                self._task,
                description=progress.status.capitalize(),
                total=100,
                completed=progress.percent,
                detail=detail,
                eta=eta,
            )
        elif self._plain:
            line = f"{progress.status}: {progress.percent:.1f}% · {detail}"
            if line != self._last_line:  # a line when something moved, not one a second
                self._command.stderr.write(f"{line} · ETA {eta}")
            self._last_line = line


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _interrupt_on_sigterm() -> Any:
    """SIGTERM stops the command like Ctrl-C: cancel, write what is finished, stop the workers."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (call_command from a thread)
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
