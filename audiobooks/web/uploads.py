"""``POST /books/upload``: a browser's book, streamed to disk and stopped as soon as it passes the cap."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from audiobooks import services
from audiobooks.availability import refuse_new_work_in_maintenance
from audiobooks.errors import BookError
from audiobooks.storage.uploads import FIELD_NAME, CappedUploadHandler, capped_upload_start
from credits.ratelimits import Action, check_rate_limit
from ebookvoice.errors import DomainError

from .common import refusal, user_of, wants_json


def _refused(request: HttpRequest, error: DomainError) -> HttpResponse:
    return refusal(request, error, template="audiobooks/upload_refused.html")


@csrf_exempt  # checked in _book_upload_checked, once the upload handler is in place
@login_required
@require_POST
def book_upload(request: HttpRequest) -> HttpResponse:
    """A multipart form with one ``file`` field, streamed to disk and stopped past the cap.

    CsrfViewMiddleware reads ``request.POST`` before a view runs, which would
    parse the body with the default handlers; so this view is exempt there
    and checks CSRF itself after installing ``CappedUploadHandler``.
    """
    try:
        refuse_new_work_in_maintenance()  # before the body is read, not after
        check_rate_limit(request_or_key=request, action=Action.UPLOAD)
    except DomainError as error:
        return _refused(request, error)
    handler = capped_upload_start(request, user=user_of(request))
    if isinstance(handler, DomainError):
        response = _refused(request, handler)
        response["Connection"] = "close"  # the body, too large, is never read
        return response
    return _book_upload_checked(request, handler=handler)


@csrf_protect
def _book_upload_checked(request: HttpRequest, *, handler: CappedUploadHandler) -> HttpResponse:
    upload = request.FILES.get(FIELD_NAME)
    if isinstance(handler.error, DomainError):
        return _refused(request, handler.error)
    if upload is None:
        return _refused(request, BookError("Choose a file to upload."))
    try:
        book = services.book_create_from_upload(
            owner=user_of(request), upload=upload, filename=upload.name or ""
        )
    except DomainError as error:
        return _refused(request, error)
    finally:
        upload.close()
    if wants_json(request):
        return JsonResponse({"book": str(book.uuid), "status": book.status}, status=201)
    messages.success(request, f"Uploaded “{book.display_title}”. We are reading it now.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("home")
    return HttpResponseRedirect(target, status=303)
