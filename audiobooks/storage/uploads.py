"""The browser upload: streamed to a temporary file, stopped as soon as it passes its cap.

Django's default handlers keep small files in memory and write big ones to
disk, but only check sizes after the whole body is read. This handler writes
every chunk to a temporary file (64 KB at a time, so memory stays flat
whatever the file's size), counts the bytes as they arrive, and stops the
upload at the first chunk past the limit: the user's plan cap or the room
left in their quota, whichever is smaller. ``capped_upload_start`` installs
it for the web form and the API alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from django.core.files.uploadhandler import SkipFile, StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

from accounts.models import User
from audiobooks import selectors
from audiobooks.errors import BookError, CoverTooLarge, UnsupportedFileType
from audiobooks.ingest.covers import MAX_COVER_BYTES
from audiobooks.storage import keys as storage_keys
from credits.errors import CreditsError
from credits.selectors import upload_check
from ebookvoice.errors import DomainError

FIELD_NAME = "file"
# Room in a multipart body for its boundaries, part headers and a small field
# or two, beyond the file itself.
MULTIPART_SLACK = 64 * 1024
UNSUPPORTED_MESSAGE = "This file type isn't supported. Please upload an EPUB, PDF, TXT or HTML file."


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Takes the one ``file`` field of a multipart form, up to ``limit`` bytes.

    When it stops an upload, ``error`` holds the exception to show; what the
    browser still sends is read and dropped (the view already refused any
    request whose Content-Length announced more than the cap, so that is
    little).
    """

    def __init__(
        self,
        request: HttpRequest,
        *,
        limit: int,
        refusal: Callable[[int], Exception],
        field_name: str = FIELD_NAME,
        extensions: frozenset[str] | None = storage_keys.UPLOAD_EXTENSIONS,
    ) -> None:
        super().__init__(request)
        self.limit = limit
        self.refusal = refusal
        self.field_name = field_name
        self.extensions = extensions
        self.received = 0
        self.error: Exception | None = None
        self._took_file = False

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != self.field_name or self._took_file:
            raise SkipFile()  # a stray field or a second file: not ours to store
        extension = PurePath(file_name).suffix.lower().lstrip(".")
        if self.extensions is not None and extension not in self.extensions:
            self.error = UnsupportedFileType(UNSUPPORTED_MESSAGE)
            raise StopUpload(connection_reset=False)
        self._took_file = True
        super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.error = self.refusal(self.received)
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def upload_refusal(*, user: User, size: int) -> DomainError:
    """The error refusing ``user`` an upload of ``size`` bytes: over the plan's cap, or over the quota."""
    try:
        upload_check(user=user, size_bytes=size, storage_used_bytes=selectors.storage_used_bytes(user=user))
    except CreditsError as error:
        return error
    return BookError("This file is larger than you can upload now.")


def capped_upload_start(request: HttpRequest, *, user: User) -> CappedUploadHandler | DomainError:
    """Install a ``CappedUploadHandler`` on ``request`` before its body is read, and return it.

    A request whose Content-Length already says it is past the user's limit
    is hopeless before a byte is read: its refusal is returned instead, and
    the body is never read.
    """
    limit = selectors.upload_limit_bytes(user=user)
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > limit + MULTIPART_SLACK:
        return upload_refusal(user=user, size=announced - MULTIPART_SLACK)
    handler = CappedUploadHandler(
        request, limit=limit, refusal=lambda received: upload_refusal(user=user, size=received)
    )
    request.upload_handlers = [handler]
    return handler


COVER_FIELD_NAME = "cover"


def capped_cover_upload_start(request: HttpRequest) -> CappedUploadHandler | DomainError:
    """``capped_upload_start`` for a cover: one ``cover`` field, of any name, up to 30 MB.

    The picture is judged by its bytes (``ingest.covers``), never by its name.
    """

    def refusal(size: int) -> DomainError:
        return CoverTooLarge(
            f"This picture is {size / (1024 * 1024):,.0f} MB or more; a cover may be up to "
            f"{MAX_COVER_BYTES // (1024 * 1024)} MB."
        )

    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > MAX_COVER_BYTES + MULTIPART_SLACK:
        return refusal(announced - MULTIPART_SLACK)
    handler = CappedUploadHandler(
        request, limit=MAX_COVER_BYTES, refusal=refusal, field_name=COVER_FIELD_NAME, extensions=None
    )
    request.upload_handlers = [handler]
    return handler
