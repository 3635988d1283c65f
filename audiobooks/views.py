"""Web views for books' files: the streamed upload, downloads, and the local links.

Every view that names a book checks ownership through ``selectors`` (another
user's book is a 404). The two ``signed_*`` views serve the links of local
mode (``storage.links``), which carry their own authorisation, like S3's
presigned URLs; with S3 configured they do not exist (404).
"""

from __future__ import annotations

import re
import time
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files import File
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import http_date, url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from accounts.models import User
from credits.errors import CreditsError
from credits.ratelimits import Action, check_rate_limit
from credits.selectors import upload_check

from . import selectors, services
from .availability import refuse_new_work_in_maintenance
from .errors import BookError, UnsupportedFileType
from .models import StoredObject
from .storage import backend, links
from .storage.headers import content_disposition
from .storage.ranges import RangeNotSatisfiable, parse_range
from .storage.uploads import FIELD_NAME, CappedUploadHandler
from .storage.zipstream import ZipEntry, zip_stream

# Room in a multipart body for its boundaries, part headers and a small field
# or two, beyond the file itself.
MULTIPART_SLACK = 64 * 1024


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _wants_json(request: HttpRequest) -> bool:
    return request.GET.get("format") == "json" or (
        request.accepts("application/json") and not request.accepts("text/html")
    )


# --- Upload -------------------------------------------------------------------------------


def _refusal(request: HttpRequest, error: BookError | CreditsError) -> HttpResponse:
    status = 415 if isinstance(error, UnsupportedFileType) else getattr(error, "http_status", 400)
    code = getattr(error, "code", None) or re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()
    if _wants_json(request):
        response: HttpResponse = JsonResponse(
            {"error": {"code": code, "message": error.message}}, status=status
        )
    else:
        response = render(
            request, "audiobooks/upload_refused.html", {"message": error.message}, status=status
        )
    if retry_after := getattr(error, "retry_after_seconds", None):
        response["Retry-After"] = str(retry_after)
    return response


def _upload_refusal(user: User, size: int) -> BookError | CreditsError:
    """The error refusing an upload of ``size`` bytes gets: over the cap, or over the quota."""
    try:
        upload_check(user=user, size_bytes=size, storage_used_bytes=selectors.storage_used_bytes(user=user))
    except CreditsError as error:
        return error
    return BookError("This file is larger than you can upload now.")


@csrf_exempt  # checked in _book_upload_checked, once the upload handler is in place
@login_required
@require_POST
def book_upload(request: HttpRequest) -> HttpResponse:
    """A multipart form with one ``file`` field, streamed to disk and stopped past the cap.

    CsrfViewMiddleware reads ``request.POST`` before a view runs, which would
    parse the body with the default handlers; so this view is exempt there
    and checks CSRF itself after installing ``CappedUploadHandler``.
    """
    user = _user(request)
    try:
        refuse_new_work_in_maintenance()  # before the body is read, not after
        check_rate_limit(request_or_key=request, action=Action.UPLOAD)
    except (BookError, CreditsError) as error:
        return _refusal(request, error)
    limit = selectors.upload_limit_bytes(user=user)
    announced = int(request.META.get("CONTENT_LENGTH") or 0)
    if announced > limit + MULTIPART_SLACK:
        # Hopeless before a byte is read: refuse at once instead of reading the body.
        response = _refusal(request, _upload_refusal(user, announced - MULTIPART_SLACK))
        response["Connection"] = "close"
        return response
    handler = CappedUploadHandler(
        request, limit=limit, refusal=lambda received: _upload_refusal(user, received)
    )
    request.upload_handlers = [handler]
    return _book_upload_checked(request, handler=handler)


@csrf_protect
def _book_upload_checked(request: HttpRequest, *, handler: CappedUploadHandler) -> HttpResponse:
    upload = request.FILES.get(FIELD_NAME)
    if isinstance(handler.error, BookError | CreditsError):
        return _refusal(request, handler.error)
    if upload is None:
        return _refusal(request, BookError("Choose a file to upload."))
    try:
        book = services.book_create_from_upload(
            owner=_user(request), upload=upload, filename=upload.name or ""
        )
    except (BookError, CreditsError) as error:
        return _refusal(request, error)
    finally:
        upload.close()
    if _wants_json(request):
        return JsonResponse({"book": str(book.uuid), "status": book.status}, status=201)
    messages.success(request, f"Uploaded “{book.display_title}”. We are reading it now.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("home")
    return HttpResponseRedirect(target, status=303)


# --- Downloads --------------------------------------------------------------------------


def _safe_name(name: str) -> str:
    return re.sub(r"[/\\]", "_", name).strip() or "download"


def _download_filename(title: str, stored: StoredObject) -> str:
    if stored.filename:
        return stored.filename
    base = stored.key.rsplit("/", 1)[-1]
    if stored.kind == StoredObject.Kind.M4B:
        return f"{title}.m4b"
    if stored.kind == StoredObject.Kind.COVER:
        return f"{title} cover.{base.rsplit('.', 1)[-1]}"
    return f"{title} - {base}"


@login_required
@require_safe
def book_file(request: HttpRequest, book_uuid: UUID, name: str) -> HttpResponse:
    """Send the owner to a fresh short-lived link to one of the book's files (302).

    A player whose link expired mid-book asks here again. ``?download=1``
    makes it an attachment (originals always are); ``?format=json`` answers
    ``{"url", "expires_at"}`` instead of redirecting.
    """
    book, stored = selectors.book_file_get_for_user(user=_user(request), book_uuid=book_uuid, name=name)
    attachment = stored.kind == StoredObject.Kind.ORIGINAL or request.GET.get("download") == "1"
    filename = book.original_filename if stored.kind == StoredObject.Kind.ORIGINAL else None
    link = links.download_link(
        key=stored.key,
        filename=_safe_name(filename or _download_filename(book.display_title, stored)),
        content_type=stored.content_type,
        disposition="attachment" if attachment else "inline",
    )
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse(
            {"url": request.build_absolute_uri(link.url), "expires_at": link.expires_at.isoformat()}
        )
    else:
        response = HttpResponseRedirect(link.url)
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def book_mp3_zip(request: HttpRequest, book_uuid: UUID) -> StreamingHttpResponse:
    """Every chapter MP3 of the book in one zip, written while it is sent and never stored."""
    book, mp3s = selectors.book_mp3s_for_user(user=_user(request), book_uuid=book_uuid)
    names: set[str] = set()
    entries = []
    for stored in mp3s:
        name = _safe_name(_download_filename(book.display_title, stored))
        while name in names:
            name = f"_{name}"
        names.add(name)
        entries.append(
            ZipEntry(
                name=name,
                size=stored.size,
                modified=stored.created_at,
                chunks=lambda key=stored.key: backend.object_chunks(key),  # type: ignore[misc]
            )
        )
    response = StreamingHttpResponse(zip_stream(entries), content_type="application/zip")
    response["Content-Disposition"] = content_disposition(
        _safe_name(f"{book.display_title} (MP3).zip"), disposition="attachment"
    )
    patch_cache_control(response, private=True, no_store=True)
    return response


# --- Local links ------------------------------------------------------------------------


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
    if request.META.get("CONTENT_TYPE", "") != signed.content_type:
        return _forbidden(f"This upload must be sent with Content-Type: {signed.content_type}.")
    if request.META.get("CONTENT_LENGTH", "") != str(signed.size):
        return _forbidden(f"This upload must be exactly {signed.size} bytes (Content-Length).")
    size = backend.object_put(signed.key, File(request), content_type=signed.content_type)  # type: ignore[arg-type]
    if size != signed.size:  # the client went away part-way
        backend.objects_delete([signed.key])
        return HttpResponse("The upload was cut short.", status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(status=200)
