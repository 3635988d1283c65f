"""When premium ends over the free quota: nothing is deleted, only uploads and new conversions wait (409)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.models import Book, StoredObject
from billing.tests import stripe_fakes as fake
from credits.models import Plan
from credits.selectors import credit_plan_get
from tests.apiclient import assert_error, person_with_app, ready_book
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

GB = 1_000_000_000


def upload(api, name: str = "Another.epub"):
    file = SimpleUploadedFile(name, b"PK\x03\x04" + b"e" * 4000, content_type="application/epub+zip")
    return api.http.post("/api/v1/books", {"file": file}, headers={"X-Session-Token": api.token})


def test_a_downgrade_over_quota_keeps_every_file_and_refuses_only_what_adds_more(settings, tmp_path):
    fake.billing_on(settings)
    user, api = person_with_app("reader@example.com")
    book = ready_book(user, tmp_path)
    customer, subscription_id = fake.customer_for(user), fake.new_id("sub")
    paid = fake.invoice(
        invoice_id=fake.new_id("in"), customer=customer, subscription=subscription_id, user_id=user.pk
    )
    assert fake.deliver(Client(), fake.event("invoice.paid", paid)).status_code == 200
    assert credit_plan_get(user=user) == Plan.PREMIUM
    # A premium library of 3 GB (the rows are what the quota counts).
    StoredObject.objects.filter(book=book, kind=StoredObject.Kind.ORIGINAL).update(size=3 * GB)
    assert upload(api, "While premium.epub").status_code == 201

    ended = fake.subscription(
        subscription_id=subscription_id, customer=customer, user_id=user.pk, status="canceled"
    )
    assert fake.deliver(Client(), fake.event("customer.subscription.deleted", ended)).status_code == 200
    assert credit_plan_get(user=user) == Plan.FREE
    message = "more than the 2 GB of your Free plan. Nothing has been deleted"

    # Uploads and new conversions: 409 with what to do, from the API and the web.
    assert_error(upload(api), 409, "over_storage_quota", message)
    conversion = api.post(
        "/api/v1/conversions", {"book": str(book.uuid), "chapters": [0], "voice": DEFAULT_VOICE}
    )
    assert_error(conversion, 409, "over_storage_quota", message)
    browser = Client()
    browser.force_login(user)
    form = {"chapter": ["0"], "voice": DEFAULT_VOICE, "speed": "1.0", "idempotency_key": "k1"}
    refused = browser.post(f"/books/{book.uuid}/convert", form)
    assert refused.status_code == 409
    assert "Nothing has been deleted" in refused.content.decode()

    # Everything already there keeps working: the books, their files, listening, deleting.
    assert Book.objects.filter(owner=user).count() == 2
    assert api.get(f"/api/v1/books/{book.uuid}").status_code == 200
    assert browser.get(f"/books/{book.uuid}/files/original").status_code == 302
    assert (
        api.put(f"/api/v1/books/{book.uuid}/progress", {"chapter": 1, "position_ms": 1_000}).status_code
        == 200
    )
    assert api.delete(f"/api/v1/books/{book.uuid}").status_code == 204
    # Under the quota again, uploads are welcome.
    assert upload(api, "Welcome back.epub").status_code == 201
