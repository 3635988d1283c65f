"""Response headers for stored objects: RFC 6266 filenames and content types."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import quote

Disposition = Literal["inline", "attachment"]

# What the server says an object is, by the key's extension: never what a
# client claimed. Originals are served as attachments (see ``disposition_for``),
# so an uploaded HTML file is never rendered by a browser.
CONTENT_TYPES = {
    "epub": "application/epub+zip",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "html": "text/html",
    "htm": "text/html",
    "xhtml": "application/xhtml+xml",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "m4b": "audio/mp4",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "vtt": "text/vtt; charset=utf-8",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "zip": "application/zip",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Types a client may announce for an upload with this extension; the first is stored.
UPLOAD_CONTENT_TYPES = {
    "epub": ("application/epub+zip",),
    "pdf": ("application/pdf",),
    "txt": ("text/plain",),
    "html": ("text/html",),
    "htm": ("text/html",),
    "xhtml": ("application/xhtml+xml", "text/html"),
}

# RFC 5987 attr-char: what may stay unescaped in filename*=UTF-8''…
_ATTR_CHARS = "!#$&+-.^_`|~"
# In the quoted ASCII fallback: printable ASCII without quote, backslash and
# the characters some clients treat as separators or paths.
_UNSAFE_FALLBACK = re.compile(r'[^\x20-\x7e]|["\\/;%*?:<>|]')


def content_type_for(key: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower().lstrip("."), DEFAULT_CONTENT_TYPE)


def attachment_name(name: str) -> str:
    """``name`` as one file's name in a download: no path separators, never empty."""
    return re.sub(r"[/\\]", "_", name).strip() or "download"


def ascii_fallback(filename: str) -> str:
    """A plain-ASCII name for clients that ignore ``filename*``: accents dropped, the rest ``_``."""
    decomposed = unicodedata.normalize("NFKD", filename)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    safe = _UNSAFE_FALLBACK.sub("_", stripped).strip(" .")
    stem, dot, extension = safe.rpartition(".")
    if not dot:
        stem, extension = safe, ""
    if not stem.strip("_ "):
        stem = "download"
    return f"{stem}.{extension}" if extension else stem


def content_disposition(filename: str, *, disposition: Disposition = "attachment") -> str:
    """RFC 6266: a quoted ASCII ``filename`` for old clients and ``filename*`` in UTF-8 for the rest.

    Control characters and path separators never reach either form.
    """
    cleaned = "".join(c for c in filename if unicodedata.category(c)[0] != "C").replace("/", "_")
    cleaned = cleaned.replace("\\", "_").strip() or "download"
    fallback = ascii_fallback(cleaned)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(cleaned, safe=_ATTR_CHARS)}"
