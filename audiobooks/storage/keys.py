"""Storage keys: made by the server only, never from a user's filename.

users/<user_uuid>/uploads/<uuid>.<ext>          originals (with a TTL)
users/<user_uuid>/books/<book_uuid>/...         the cover (cover.<ext>), and each conversion's
    deliverables under conversions/<conversion_uuid>/: book.m4b, mp3/NN.mp3, captions/NN.vtt
    (a second conversion of a book, in another voice say, never overwrites the first's files),
    and aac/<sha256>.m4a, each chapter's AAC segment, content-addressed and shared by the
    book's conversions
parts/<sha256>.<ext>                            the shared render cache (with a TTL)
voices/previews/<sha256>.mp3                    each voice's stock preview clip (shared, kept)
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import TYPE_CHECKING, TypedDict
from uuid import UUID

if TYPE_CHECKING:
    from audiobooks.models import Conversion

UPLOAD_EXTENSIONS = frozenset({"epub", "pdf", "txt", "html", "htm", "xhtml"})
COVER_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
PART_EXTENSIONS = frozenset({"flac", "wav"})
PARTS_PREFIX = "parts/"
USERS_PREFIX = "users/"
VOICE_PREVIEWS_PREFIX = "voices/previews/"

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def user_prefix(*, user_uuid: UUID) -> str:
    return f"{USERS_PREFIX}{user_uuid}/"


def upload_key(*, user_uuid: UUID, extension: str) -> str:
    if extension not in UPLOAD_EXTENSIONS:
        raise ValueError(f"not an upload extension: {extension!r}")
    return f"{user_prefix(user_uuid=user_uuid)}uploads/{uuid.uuid4()}.{extension}"


def book_prefix(*, user_uuid: UUID, book_uuid: UUID) -> str:
    return f"{user_prefix(user_uuid=user_uuid)}books/{book_uuid}/"


def cover_key(*, user_uuid: UUID, book_uuid: UUID, media_type: str, edited: bool = False) -> str:
    """cover.<ext> as ingestion stores it; an edited cover (uploaded, or drawn again) gets a new name
    each time, cover-<random>.<ext>, so no browser or podcast app keeps showing the old picture."""
    name = f"cover-{uuid.uuid4().hex[:16]}" if edited else "cover"
    return book_prefix(user_uuid=user_uuid, book_uuid=book_uuid) + f"{name}.{COVER_EXTENSIONS[media_type]}"


class DeliverableIds(TypedDict):
    user_uuid: UUID
    book_uuid: UUID
    conversion_uuid: UUID


def deliverable_ids(conversion: Conversion) -> DeliverableIds:
    """The keywords of ``conversion_prefix`` and the deliverable keys for ``conversion``."""
    book = conversion.book
    return {"user_uuid": book.owner.uuid, "book_uuid": book.uuid, "conversion_uuid": conversion.uuid}


def conversion_prefix(*, user_uuid: UUID, book_uuid: UUID, conversion_uuid: UUID) -> str:
    return book_prefix(user_uuid=user_uuid, book_uuid=book_uuid) + f"conversions/{conversion_uuid}/"


def m4b_key(*, user_uuid: UUID, book_uuid: UUID, conversion_uuid: UUID) -> str:
    return (
        conversion_prefix(user_uuid=user_uuid, book_uuid=book_uuid, conversion_uuid=conversion_uuid)
        + "book.m4b"
    )


def mp3_key(*, user_uuid: UUID, book_uuid: UUID, conversion_uuid: UUID, number: int) -> str:
    """``number`` counts chapters from 1, as a listener does: mp3/01.mp3, …, mp3/120.mp3."""
    prefix = conversion_prefix(user_uuid=user_uuid, book_uuid=book_uuid, conversion_uuid=conversion_uuid)
    return prefix + f"mp3/{_number(number)}.mp3"


def captions_key(*, user_uuid: UUID, book_uuid: UUID, conversion_uuid: UUID, number: int) -> str:
    prefix = conversion_prefix(user_uuid=user_uuid, book_uuid=book_uuid, conversion_uuid=conversion_uuid)
    return prefix + f"captions/{_number(number)}.vtt"


def segment_key(*, user_uuid: UUID, book_uuid: UUID, digest: str) -> str:
    """A chapter's AAC segment, named by ``segment_digest``: the same sources give the same key."""
    if not _DIGEST.match(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return book_prefix(user_uuid=user_uuid, book_uuid=book_uuid) + f"aac/{digest}.m4a"


def chapter_sources_digest(*, part_keys: list[str], mastering_version: int) -> str:
    """What a mastered chapter is made from: its Parts, in order, and how they are mastered."""
    payload = json.dumps([part_keys, mastering_version], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def segment_digest(*, part_keys: list[str], gain_db: float, mastering_version: int) -> str:
    """A segment's content address: its Parts, the gain as mastering applies it, the mastering version."""
    payload = json.dumps([part_keys, f"{gain_db:.2f}", mastering_version], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def part_digest(*, engine: str, voice: str, speed: float | str, text: str) -> str:
    """The render cache's content address: the same inputs always give the same Part.

    JSON makes the encoding unambiguous ("a" + "bc" never equals "ab" + "c").
    """
    payload = json.dumps([engine, voice, str(speed), text], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def part_key(*, digest: str, extension: str = "flac") -> str:
    if not _DIGEST.match(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    if extension not in PART_EXTENSIONS:
        raise ValueError(f"not a part extension: {extension!r}")
    return f"{PARTS_PREFIX}{digest}.{extension}"


def voice_preview_digest(*, voice_key: str, normaliser_version: int, text: str) -> str:
    """What a stock preview sounds like depends on: a new normaliser or sample text makes a new clip."""
    payload = json.dumps([voice_key, normaliser_version, text], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def voice_preview_key(*, digest: str) -> str:
    if not _DIGEST.match(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return f"{VOICE_PREVIEWS_PREFIX}{digest}.mp3"


def _number(number: int) -> str:
    if number < 1:
        raise ValueError(f"chapter numbers start at 1, not {number}")
    return f"{number:02d}"
