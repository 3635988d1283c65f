"""The links of local mode (``storage.links``): a signed download, with HTTP Range, and a signed upload PUT.

They carry their own authorisation, like S3's presigned URLs, so they need
no session; with S3 configured they do not exist (404).
"""

from __future__ import annotations

import time

from django.core.files import File
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from audiobooks import selectors
from audiobooks.storage import backend, links
from audiobooks.storage.ranges import RangeNotSatisfiable, parse_range


def _forbidden(message: str) -> HttpResponse:
    return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")


@require_safe
def signed_download(request: HttpRequest, token: str) -> HttpResponseBase:
    """Serve a local download link, with HTTP Range so audio can seek.

    Refuses (403) a tampered or expired link, as S3 does a presigned URL.
    """
    if backend.is_s3():
        raise Http404()
    try:
        signed = links.verify_download_token(token)
    except links.LinkRefused as error:
        return _forbidden(str(error))
    info = backend.object_head(signed.key)
    if info is None:
        raise Http404("This file no longer exists.")
    etag = f'"{info.size:x}-{int(info.modified.timestamp() * 1_000_000):x}"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(info.modified.timestamp()),
        "Content-Disposition": signed.content_disposition,
        "X-Content-Type-Options": "nosniff",
        # An uploaded HTML original must never run as a page of this site.
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": f"private, max-age={max(0, signed.expires - int(time.time()))}",
    }
    if_range = request.headers.get("If-Range")
    requested = request.headers.get("Range") if if_range in (None, etag) else None
    try:
        byte_range = parse_range(requested, info.size)
    except RangeNotSatisfiable:
        response = HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
        return response
    first, last = byte_range or (0, info.size - 1)
    body = backend.object_chunks(signed.key, start=first, end=last) if info.size else iter(())
    streamed = StreamingHttpResponse(body, content_type=signed.content_type, headers=headers)
    streamed["Content-Length"] = str(last - first + 1)
    if byte_range is not None:
        streamed.status_code = 206
        streamed["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    return streamed


@csrf_exempt  # authorised by the signed token, like a presigned PUT; there is no session
def signed_upload(request: HttpRequest, token: str) -> HttpResponse:
    """Take a local upload link's PUT: exactly the signed Content-Type and Content-Length, streamed."""
    if request.method != "PUT":
        return HttpResponse(status=405, headers={"Allow": "PUT"})
    if backend.is_s3():
        raise Http404()
    try:
        signed = links.verify_upload_token(token)
    except links.LinkRefused as error:
        return _forbidden(str(error))
    refusal = _upload_refusal(request, signed)
    if refusal:
        return _forbidden(refusal)
    size = backend.object_put(signed.key, File(request), content_type=signed.content_type)  # type: ignore[arg-type]
    if size != signed.size:  # the client went away part-way
        backend.objects_delete([signed.key])
        return HttpResponse("The upload was cut short.", status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(status=200)


def _upload_refusal(request: HttpRequest, signed: links.SignedPut) -> str:
    """Why this PUT is refused, or "" to take it.

    A link takes one PUT, before ``/finish``: a finished upload is the book's
    original, and nobody may replace it (S3's presigned URLs cannot say this;
    there the HEAD at ``/finish`` is what checks the object).
    """
    if not selectors.upload_awaiting_put(key=signed.key):
        return "This upload is finished or has expired; the link no longer works."
    if backend.object_head(signed.key) is not None:
        return "This upload link was used already; start a new upload to send another file."
    if request.META.get("CONTENT_TYPE", "") != signed.content_type:
        return f"This upload must be sent with Content-Type: {signed.content_type}."
    if request.META.get("CONTENT_LENGTH", "") != str(signed.size):
        return f"This upload must be exactly {signed.size} bytes (Content-Length)."
    return ""
