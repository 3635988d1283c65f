"""What moto does not check, checked the way S3 and R2 do: presigned URLs' expiry and signature.

moto's server accepts any presigned URL, expired or tampered with, and a PUT
with headers other than the ones signed. ``SigV4Gate`` sits in front of it
and recomputes each presigned request's signature with botocore's own SigV4
signer from what actually arrived (method, path, query, and the signed
headers' values), then refuses with S3's 403 errors; requests signed in an
Authorization header (the app's own boto3 calls) pass through.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "ebv-test-access"
SECRET_KEY = "ebv-test-secret"


@dataclass(frozen=True)
class PresignedCheck:
    ok: bool
    code: str = ""
    message: str = ""


def presigned_signature(
    *, method: str, url: str, headers: dict[str, str], secret_key: str = SECRET_KEY
) -> str:
    """The SigV4 signature botocore computes for this presigned request (without X-Amz-Signature)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    access_key, _, region, service, _ = params["X-Amz-Credential"].split("/")
    query = "&".join(pair for pair in parts.query.split("&") if not pair.startswith("X-Amz-Signature="))
    request = AWSRequest(
        method=method, url=f"{parts.scheme}://{parts.netloc}{parts.path}?{query}", headers=headers
    )
    request.context["timestamp"] = params["X-Amz-Date"]
    auth = S3SigV4QueryAuth(
        Credentials(access_key, secret_key), service, region, expires=int(params["X-Amz-Expires"])
    )
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))


def check_presigned(
    *, method: str, url: str, headers: dict[str, str], now: datetime | None = None
) -> PresignedCheck:
    """S3's verdict on a presigned request: expired, tampered, or good.

    ``headers`` are the request's headers (any case); only those named in
    X-Amz-SignedHeaders take part, and a signed header that is missing fails.
    """
    params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if (now or datetime.now(UTC)).timestamp() > signed_at.timestamp() + int(params["X-Amz-Expires"]):
        return PresignedCheck(False, "AccessDenied", "Request has expired")
    lower = {name.lower(): value for name, value in headers.items()}
    signed: dict[str, str] = {}
    for name in params["X-Amz-SignedHeaders"].split(";"):
        if name not in lower:
            return PresignedCheck(False, "SignatureDoesNotMatch", f"signed header {name} is missing")
        signed[name] = lower[name]
    expected = presigned_signature(method=method, url=url, headers=signed)
    if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
        return PresignedCheck(
            False,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return PresignedCheck(True)


class SigV4Gate:
    """WSGI middleware for moto's server app."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if "X-Amz-Signature=" not in query:
            return self.app(environ, start_response)
        raw_path = (
            environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ["PATH_INFO"])
        ).split("?")[0]
        host = environ.get("HTTP_HOST", "")
        headers = {"host": host}
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        if "CONTENT_LENGTH" in environ:
            headers["content-length"] = environ["CONTENT_LENGTH"]
        for name, value in environ.items():
            if name.startswith("HTTP_") and name != "HTTP_HOST":
                headers[name[5:].lower().replace("_", "-")] = value
        verdict = check_presigned(
            method=environ["REQUEST_METHOD"], url=f"http://{host}{raw_path}?{query}", headers=headers
        )
        if verdict.ok:
            return self.app(environ, start_response)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{verdict.code}</Code>'
            f"<Message>{verdict.message}</Message></Error>"
        ).encode()
        start_response(
            "403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        )
        return [body]
