"""The email a reader gets when a conversion completes or fails, and the switch that stops it."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from audiobooks.delivery.email import conversion_finished_email_send
from audiobooks.models import Book, Conversion

pytestmark = pytest.mark.django_db


def finished_conversion(owner, *, status: str, **fields) -> Conversion:
    book = Book.objects.create(
        owner=owner, original_key="k", original_filename="lighthouse.epub", original_size=1,
        title="The Lighthouse", status=Book.Status.READY,
    )  # fmt: skip
    now = timezone.now()
    row = {
        "owner": owner, "book": book, "status": status, "voice_key": "piper:en_US-joe-medium", "speed": 1.0,
        "characters": 100, "credits_charged": 1, "started_at": now, "finished_at": now, **fields,
    }  # fmt: skip
    return Conversion.objects.create(**row)


def test_a_completed_conversion_emails_a_link_to_the_book(owner, settings):
    settings.SITE_URL = "https://books.example.com"
    conversion = finished_conversion(owner, status=Conversion.Status.COMPLETED, duration_ms=754_000)
    assert conversion_finished_email_send(conversion_id=conversion.pk)
    [email] = mail.outbox
    assert email.to == [owner.email]
    assert email.subject == "Your audiobook “The Lighthouse” is ready"
    assert f"https://books.example.com/books/{conversion.book.uuid}/" in email.body
    assert "(13 minutes)" in email.body
    assert "https://books.example.com/accounts/settings/" in email.body


def test_a_failed_conversion_emails_what_went_wrong_and_the_refund(owner):
    conversion = finished_conversion(
        owner, status=Conversion.Status.FAILED, error_message="Part of chapter “Two” could not be rendered."
    )
    assert conversion_finished_email_send(conversion_id=conversion.pk)
    [email] = mail.outbox
    assert email.subject == "We could not finish “The Lighthouse”"
    assert "could not be rendered" in email.body
    assert "refunded" in email.body


def test_no_email_when_the_reader_switched_them_off_or_for_an_operator_job_or_a_cancel(owner):
    owner.notify_by_email = False
    owner.save(update_fields=["notify_by_email"])
    assert not conversion_finished_email_send(
        conversion_id=finished_conversion(owner, status=Conversion.Status.COMPLETED, duration_ms=1).pk
    )
    owner.notify_by_email = True
    owner.save(update_fields=["notify_by_email"])
    operator = finished_conversion(
        owner, status=Conversion.Status.COMPLETED, duration_ms=1, operator_job=True, credits_charged=0
    )
    assert not conversion_finished_email_send(conversion_id=operator.pk)
    cancelled = finished_conversion(owner, status=Conversion.Status.CANCELLED, cancel_requested=True)
    assert not conversion_finished_email_send(conversion_id=cancelled.pk)
    assert mail.outbox == []
