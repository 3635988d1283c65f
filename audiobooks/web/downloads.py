"""A book's files for its owner: one file by its name, every chapter MP3 in a zip, and the ACX export;
and the MP3 zip of one conversion through the API's signed link.

Each checks ownership through ``selectors`` (another user's book is a 404).
A file is a redirect to a short-lived link (presigned on S3, signed by this
app locally); the zips are written while they are sent and never stored.
The ACX export checks everything that can refuse it before the response
starts: a book with no ready chapter, or whose rendered audio expired, is a
409 with a message (JSON for apps, a page for browsers); HEAD answers the
headers only, without building anything.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from audiobooks import selectors
from audiobooks.delivery import acx, readalong
from audiobooks.models import Book, StoredObject
from audiobooks.storage import backend, links
from audiobooks.storage.headers import attachment_name, content_disposition
from audiobooks.storage.zipstream import ZipEntry, zip_stream

from .common import refusal, user_of, wants_json


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
    book, stored = selectors.book_file_get_for_user(user=user_of(request), book_uuid=book_uuid, name=name)
    attachment = stored.kind == StoredObject.Kind.ORIGINAL or request.GET.get("download") == "1"
    filename = book.original_filename if stored.kind == StoredObject.Kind.ORIGINAL else None
    link = links.download_link(
        key=stored.key,
        filename=attachment_name(filename or _download_filename(book.display_title, stored)),
        content_type=stored.content_type,
        disposition="attachment" if attachment else "inline",
    )
    response: HttpResponse
    if wants_json(request):
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
    book, mp3s = selectors.book_mp3s_for_user(user=user_of(request), book_uuid=book_uuid)
    return _mp3_zip_response(book, mp3s)


@require_safe
def signed_mp3_zip(request: HttpRequest, token: str) -> HttpResponseBase:
    """A conversion's chapter MP3s in one zip, for whoever holds the API's signed link (no session).

    The link (``storage.links.archive_link``) is handed out by
    ``GET /api/v1/conversions/<id>/downloads`` after the ownership check, and
    lives as long as any download link; a tampered or expired one is a 403,
    as S3 answers a presigned URL. It is checked when the zip starts, not
    while it streams.
    """
    try:
        signed = links.verify_archive_token(token)
    except links.LinkRefused as error:
        return HttpResponse(str(error), status=403, content_type="text/plain; charset=utf-8")
    conversion, mp3s = selectors.conversion_mp3s_for_owner(
        owner_uuid=signed.owner_uuid, conversion_uuid=signed.conversion_uuid
    )
    return _mp3_zip_response(conversion.book, mp3s)


def _mp3_zip_response(book: Book, mp3s: list[StoredObject]) -> StreamingHttpResponse:
    names: set[str] = set()
    entries = []
    for stored in mp3s:
        name = attachment_name(_download_filename(book.display_title, stored))
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
        attachment_name(f"{book.display_title} (MP3).zip"), disposition="attachment"
    )
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def book_acx_zip(request: HttpRequest, book_uuid: UUID) -> HttpResponseBase:
    """The book's ready chapters as ACX MP3s (44.1 kHz, 192 kb/s CBR, at most 120 min each) in a zip."""
    try:
        export = acx.acx_export_get_for_user(user=user_of(request), book_uuid=book_uuid)
    except acx.ExportError as error:
        return refusal(request, error, template="audiobooks/acx_refused.html")
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(content_type="application/zip")
    else:
        response = StreamingHttpResponse(acx.acx_zip_stream(export), content_type="application/zip")
    response["Content-Disposition"] = content_disposition(
        attachment_name(export.filename), disposition="attachment"
    )
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def book_readalong_epub(request: HttpRequest, book_uuid: UUID) -> HttpResponseBase:
    """The book's ready chapters as an EPUB 3 with Media Overlays (``delivery.readalong``), streamed."""
    try:
        export = readalong.readalong_export_get_for_user(user=user_of(request), book_uuid=book_uuid)
    except acx.ExportError as error:
        return refusal(request, error, template="refused.html", context={"status": error.http_status})
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(content_type="application/epub+zip")
    else:
        response = StreamingHttpResponse(
            readalong.readalong_zip_stream(export), content_type="application/epub+zip"
        )
    response["Content-Length"] = str(export.size)
    response["Content-Disposition"] = content_disposition(
        attachment_name(export.filename), disposition="attachment"
    )
    patch_cache_control(response, private=True, no_store=True)
    return response
