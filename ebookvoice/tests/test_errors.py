"""One base for refusals, one tuple of transient errors: what the API and the tasks rely on."""

from __future__ import annotations

from django.db import OperationalError
from rest_framework.test import APIRequestFactory

from audiobooks.errors import BookError, UnsupportedFileType
from audiobooks.voices.previews import PreviewError
from credits.errors import CreditsError, RateLimited
from ebookvoice.api.errors import api_exception_handler
from ebookvoice.celery import app
from ebookvoice.errors import TRANSIENT_ERRORS, DomainError


def handled(error: Exception):
    return api_exception_handler(error, {"request": APIRequestFactory().get("/api/v1/books")})


def test_every_apps_refusals_are_domain_errors():
    assert issubclass(BookError, DomainError)
    assert issubclass(CreditsError, DomainError)
    assert issubclass(PreviewError, DomainError)


def test_the_api_answers_any_domain_error_with_its_status_code_and_message():
    class ShelfFull(DomainError):
        http_status = 409

    response = handled(ShelfFull("The shelf is full."))
    assert response.status_code == 409
    assert response.data == {"error": {"code": "shelf_full", "message": "The shelf is full."}}
    assert handled(UnsupportedFileType("Not a book.")).status_code == 415


def test_a_wait_named_by_the_error_becomes_retry_after():
    limited = RateLimited(action_label="uploads", limit=5, period_label="hour", retry_after_seconds=90)
    response = handled(limited)
    assert (response.status_code, response["Retry-After"]) == (429, "90")
    assert response.data["error"]["code"] == "rate_limited"


def test_tasks_retry_transient_errors_only_never_a_bug():
    app.loader.import_default_modules()
    ours = [task for name, task in app.tasks.items() if name.startswith("audiobooks.")]
    retrying = [task for task in ours if getattr(task, "autoretry_for", ())]
    assert {task.name for task in retrying} >= {"audiobooks.master_chapter", "audiobooks.assemble_book"}
    for task in retrying:
        assert tuple(getattr(task, "autoretry_for", ())) == TRANSIENT_ERRORS, task.name
    assert OperationalError in TRANSIENT_ERRORS
    assert not any(issubclass(Exception, kind) for kind in TRANSIENT_ERRORS)
    assert not any(issubclass(ValueError, kind) or issubclass(KeyError, kind) for kind in TRANSIENT_ERRORS)
