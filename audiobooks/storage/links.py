"""Short-lived links to read or write one object; nothing in the bucket is ever public.

On S3 (R2) these are presigned URLs. In local mode they are URLs to this app
whose token is signed with ``SECRET_KEY`` (``django.core.signing``) and carries
its own expiry; ``audiobooks.web.files`` serves them with the same rules S3
applies: an expired or tampered link is refused with 403, a PUT must send the
signed Content-Type and Content-Length.

Whoever holds a link can use it until it expires, exactly like a presigned
URL, so a link is handed out only after an ownership check
(``audiobooks.selectors``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from . import backend, conf
from .headers import Disposition, content_disposition

_GET_SALT = "audiobooks.storage.link.get"
_PUT_SALT = "audiobooks.storage.link.put"
_ARCHIVE_SALT = "audiobooks.storage.link.archive"


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime
    # Headers the client must send with it (an upload's signed Content-Type and Content-Length).
    headers: dict[str, str]


def _lifetime(expires_in: int | None) -> int:
    ceiling = conf.link_max_age_seconds()
    return ceiling if expires_in is None else max(1, min(expires_in, ceiling))


def download_link(
    *,
    key: str,
    filename: str,
    content_type: str,
    disposition: Disposition = "attachment",
    expires_in: int | None = None,
) -> Link:
    """A GET link that answers with this filename (RFC 6266) and content type."""
    seconds = _lifetime(expires_in)
    header = content_disposition(filename, disposition=disposition)
    expires_at = timezone.now() + timedelta(seconds=seconds)
    if backend.is_s3():
        client, bucket = backend.s3()
        url = client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentDisposition": header,
                "ResponseContentType": content_type,
            },
            ExpiresIn=seconds,
        )
    else:
        token = signing.dumps(
            {"k": key, "t": content_type, "d": header, "e": int(time.time()) + seconds},
            salt=_GET_SALT,
            compress=True,
        )
        url = reverse("audiobooks:signed-download", kwargs={"token": token})
    return Link(url=url, expires_at=expires_at, headers={})


def upload_link(*, key: str, content_type: str, size: int, expires_in: int | None = None) -> Link:
    """A PUT link for exactly this key, with the Content-Type and Content-Length signed.

    It writes once: ``If-None-Match: *`` is signed too, so S3 and R2 answer 412 to a second PUT
    instead of letting it replace the file (the local view keeps its own one-PUT rule).
    """
    seconds = _lifetime(expires_in)
    expires_at = timezone.now() + timedelta(seconds=seconds)
    headers = {"Content-Type": content_type, "Content-Length": str(size), "If-None-Match": "*"}
    if backend.is_s3():
        client, bucket = backend.s3()
        url = client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": size,
                "IfNoneMatch": "*",
            },
            ExpiresIn=seconds,
        )
    else:
        token = signing.dumps(
            {"k": key, "t": content_type, "n": size, "e": int(time.time()) + seconds},
            salt=_PUT_SALT,
            compress=True,
        )
        url = reverse("audiobooks:signed-upload", kwargs={"token": token})
    return Link(url=url, expires_at=expires_at, headers=headers)


def archive_link(*, conversion_uuid: UUID, owner_uuid: UUID, expires_in: int | None = None) -> Link:
    """A GET link to a conversion's chapter MP3s as one zip, which this app writes while it sends it.

    Such a zip is never stored, so no bucket can presign it: on S3 and locally
    alike the link is to this app, signed with ``SECRET_KEY`` and carrying its
    expiry, like a local download link. It names the owner too, so the view
    checks that the conversion is still theirs.
    """
    seconds = _lifetime(expires_in)
    token = signing.dumps(
        {"c": str(conversion_uuid), "o": str(owner_uuid), "e": int(time.time()) + seconds},
        salt=_ARCHIVE_SALT,
        compress=True,
    )
    url = reverse("audiobooks:signed-mp3-zip", kwargs={"token": token})
    return Link(url=url, expires_at=timezone.now() + timedelta(seconds=seconds), headers={})


class LinkRefused(Exception):
    """A local link that is tampered with or expired: 403, as S3 answers."""


@dataclass(frozen=True)
class SignedGet:
    key: str
    content_type: str
    content_disposition: str
    expires: int


@dataclass(frozen=True)
class SignedPut:
    key: str
    content_type: str
    size: int
    expires: int


def _load(token: str, salt: str) -> dict[str, object]:
    try:
        payload = signing.loads(token, salt=salt)
    except signing.BadSignature as error:
        raise LinkRefused("This link is not valid.") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), int):
        raise LinkRefused("This link is not valid.")
    if payload["e"] < time.time():
        raise LinkRefused("This link has expired. Go back and open the file again for a fresh link.")
    return payload


def verify_download_token(token: str) -> SignedGet:
    payload = _load(token, _GET_SALT)
    return SignedGet(str(payload["k"]), str(payload["t"]), str(payload["d"]), int(str(payload["e"])))


@dataclass(frozen=True)
class SignedArchive:
    conversion_uuid: UUID
    owner_uuid: UUID
    expires: int


def verify_archive_token(token: str) -> SignedArchive:
    payload = _load(token, _ARCHIVE_SALT)
    try:
        return SignedArchive(UUID(str(payload["c"])), UUID(str(payload["o"])), int(str(payload["e"])))
    except (KeyError, ValueError):
        raise LinkRefused("This link is not valid.") from None


def verify_upload_token(token: str) -> SignedPut:
    payload = _load(token, _PUT_SALT)
    return SignedPut(str(payload["k"]), str(payload["t"]), int(str(payload["n"])), int(str(payload["e"])))
