"""Logs: one JSON object a line for services (or one readable text line for people), with the request
id and the conversion id on every record.

Both ids live in context variables, so they follow a request through every
logger it touches, and a Celery task through its whole run:

- ``RequestIdMiddleware`` takes ``X-Request-ID`` from the proxy (or makes
  one), sends it back on the response, and logs one line per request.
- Celery's ``task_prerun`` (connected in ``ebookvoice.apps``) finds the
  conversion a task works on from its arguments (through the resolvers the
  apps register), and the request id that sent it from a message header
  that ``before_task_publish`` adds.
- ``ContextFilter`` (on the console handler in ``settings.LOGGING``) copies
  both onto each record, so the JSON formatter writes them out.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from celery import signals
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
conversion_id_var: ContextVar[str] = ContextVar("conversion_id", default="")

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming id may look like: a proxy's (Heroku, nginx $request_id, a
# uuid) fits; anything else is replaced, so a client cannot write arbitrary
# text into every log line.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_logger = logging.getLogger("ebookvoice.request")


class ContextFilter(logging.Filter):
    """Puts ``request_id`` and ``conversion_id`` on every record ("" when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        if not getattr(record, "conversion_id", ""):
            record.conversion_id = conversion_id_var.get()
        return True


def request_id_from(header: str | None) -> str:
    """The proxy's request id when it looks like one, else a fresh one."""
    if header and _VALID_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give each request an id, and log one line when it ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        request_token = request_id_var.set(request_id)
        conversion_token = conversion_id_var.set("")
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            elapsed = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request_id
            view = view_name(request)
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "view": view,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            return response
        finally:
            request_id_var.reset(request_token)
            conversion_id_var.reset(conversion_token)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: dict[str, Any]
    ) -> None:
        # Pages and API calls about one conversion name it in the URL.
        if conversion_uuid := view_kwargs.get("conversion_uuid"):
            conversion_id_var.set(str(conversion_uuid))


def view_name(request: HttpRequest) -> str:
    """The matched route's name, a bounded label (a raw path would make one series per book)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unmatched>"
    return match.view_name or match._func_path


# --- Celery ----------------------------------------------------------------------------

# How to find the conversion a task works on, from the task's first argument,
# by task name: registered by the app that owns the tasks (``AudiobooksConfig.ready``).
ConversionResolver = Callable[[Any], str | None]
_TASK_CONVERSION: dict[str, ConversionResolver] = {}


def register_conversion_resolver(task_name: str, resolver: ConversionResolver) -> None:
    """Put on ``task_name``'s log lines the conversion uuid ``resolver`` reads from its first argument."""
    _TASK_CONVERSION[task_name] = resolver


def conversion_id_for_task(task_name: str, args: Any) -> str:
    """The uuid of the conversion a task works on, or "" (not a conversion task, or no such row)."""
    lookup = _TASK_CONVERSION.get(task_name)
    if lookup is None or not args:
        return ""
    try:
        return lookup(args[0]) or ""
    except Exception:
        # A log field is never worth failing a task over (a database blip shows up in the task itself).
        logging.getLogger(__name__).debug("could not find the conversion of %s", task_name, exc_info=True)
        return ""


def on_before_task_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Carry the request id of whoever sends a task into its message."""
    if headers is not None and (request_id := request_id_var.get()):
        headers.setdefault("request_id", request_id)


def on_task_prerun(task: Any = None, args: Any = None, **_: Any) -> None:
    name = getattr(task, "name", "") or ""
    sent_by = getattr(getattr(task, "request", None), "request_id", None)
    request_id_var.set(sent_by if isinstance(sent_by, str) and sent_by else "")
    conversion_id_var.set(conversion_id_for_task(name, args))


def on_task_postrun(**_: Any) -> None:
    request_id_var.set("")
    conversion_id_var.set("")


def connect_celery_signals() -> None:
    signals.before_task_publish.connect(on_before_task_publish, weak=False, dispatch_uid="ebv-logs-publish")
    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid="ebv-logs-prerun")
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="ebv-logs-postrun")


LOG_FORMATS = ("json", "text")
# What a command shows of the log at each -v: its own output is the report, so by
# default only errors; -v 2 adds warnings, -v 3 everything down to LOG_LEVEL.
_COMMAND_LOG_LEVELS = {0: logging.ERROR, 1: logging.ERROR, 2: logging.WARNING}


class TextFormatter(logging.Formatter):
    """One readable line a record: ``12:03:04 WARNING audiobooks.pipeline: message [conversion_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        ids = [
            f"{name}={value}"
            for name in ("request_id", "conversion_id")
            if (value := getattr(record, name, ""))
        ]
        line = super().formatMessage(record)
        return f"{line} [{' '.join(ids)}]" if ids else line


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """``settings.LOGGING``: JSON lines on stderr for services, or ``fmt="text"``, one line for people."""
    if fmt not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "ebookvoice.logs.ContextFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(conversion_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "timestamp": False,
            },
            "text": {"()": "ebookvoice.logs.TextFormatter"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # The request line replaces Django's own "Not Found: …" warnings for 4xx.
            "django.request": {"level": "ERROR"},
        },
    }


@contextlib.contextmanager
def logging_for_command(verbosity: int) -> Iterator[None]:
    """Raise the root logger's level while a command runs, by its ``-v``: at the default only errors.

    A refusal the command reports in its own one line (a damaged file, say) must
    not also appear as library warnings or a logged traceback before it.
    """
    root = logging.getLogger()
    previous = root.level
    if verbosity in _COMMAND_LOG_LEVELS:
        root.setLevel(max(previous, _COMMAND_LOG_LEVELS[verbosity]))
    try:
        yield
    finally:
        root.setLevel(previous)
