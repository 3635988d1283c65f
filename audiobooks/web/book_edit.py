"""The book page's edit forms: ``POST /books/<uuid>/details`` (title, authors) and ``/cover`` (a picture).

Both work before and after converting; the services check every value and the
finished files' tags follow in the background. A refusal is a page with its own
status (400 for an empty title, 413 for a picture over 30 MB, 415 for a file
that is no picture, 422 for a decompression bomb), or the API's JSON for a script.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from audiobooks import details
from audiobooks.errors import CoverNotAnImage
from audiobooks.storage.uploads import COVER_FIELD_NAME, CappedUploadHandler, capped_cover_upload_start
from ebookvoice.errors import DomainError

from .common import refusal, user_of


def _refused(request: HttpRequest, error: DomainError, book_uuid: UUID) -> HttpResponse:
    return refusal(request, error, template="audiobooks/edit_refused.html", context={"book_uuid": book_uuid})


def _back(book_uuid: UUID) -> HttpResponse:
    # The book page, which sends a book not yet converted on to its convert page.
    target = reverse("audiobooks:book-detail", kwargs={"book_uuid": book_uuid})
    return HttpResponseRedirect(target, status=303)


def split_authors(value: str) -> list[str]:
    """The form's one line of authors, separated by commas or semicolons."""
    return [name for name in (part.strip() for part in value.replace(";", ",").split(",")) if name]


@login_required
@require_POST
def book_details_edit(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    try:
        book = details.book_details_update(
            user=user_of(request),
            book_uuid=book_uuid,
            title=request.POST.get("title", ""),
            authors=split_authors(request.POST.get("authors", "")),
        )
    except DomainError as error:
        return _refused(request, error, book_uuid)
    messages.success(request, f"Saved. The book is now “{book.display_title}”.")
    return _back(book_uuid)


@csrf_exempt  # checked in _cover_checked, once the upload handler is in place (as web/uploads.py)
@login_required
@require_POST
def book_cover_edit(request: HttpRequest, book_uuid: UUID) -> HttpResponse:
    handler = capped_cover_upload_start(request)
    if isinstance(handler, DomainError):
        response = _refused(request, handler, book_uuid)
        response["Connection"] = "close"  # the body, too large, is never read
        return response
    return _cover_checked(request, book_uuid=book_uuid, handler=handler)


@csrf_protect
def _cover_checked(request: HttpRequest, *, book_uuid: UUID, handler: CappedUploadHandler) -> HttpResponse:
    upload = request.FILES.get(COVER_FIELD_NAME)
    if isinstance(handler.error, DomainError):
        return _refused(request, handler.error, book_uuid)
    if upload is None:
        return _refused(request, CoverNotAnImage("Choose a picture for the cover."), book_uuid)
    try:
        details.book_cover_replace(
            user=user_of(request), book_uuid=book_uuid, upload=upload, size=upload.size
        )
    except DomainError as error:
        return _refused(request, error, book_uuid)
    finally:
        upload.close()
    messages.success(request, "Saved the new cover.")
    return _back(book_uuid)
