"""The email a reader gets when a conversion completes or fails, and the switch that stops it."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from django.utils import timezone

from audiobooks.delivery.email import conversion_finished_email_send
from audiobooks.models import Book, Conversion
from credits.services import conversion_charge, conversion_refund, credits_grant_by_system

pytestmark = pytest.mark.django_db


def finished_conversion(owner, *, status: str, **fields) -> Conversion:
    book = Book.objects.create(
        owner=owner, original_key="k", original_filename="lighthouse.epub", original_size=1,
        title="The Lighthouse", status=Book.Status.READY,
    )  # fmt: skip
    now = timezone.now()
    row = {
        "owner": owner, "book": book, "status": status, "voice_key": "piper:en_US-joe-medium", "speed": 1.0,
        "characters": 3_201, "charge_hundredths": 7, "started_at": now, "finished_at": now, **fields,
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
    assert "It cost 0.07 credits. Your balance is 0.00 credits (about 0 min of audio)." in email.body


def test_the_emails_say_the_charge_refund_and_balance_to_the_hundredth_with_the_audio(owner):
    credits_grant_by_system(user=owner, hundredths=250, reason="test")
    conversion = finished_conversion(owner, status=Conversion.Status.COMPLETED, duration_ms=754_000)
    conversion_finished_email_send(conversion_id=conversion.pk)
    # 2.5 credits: 125,000 characters; joe says 17.2 a second: 7,267 s.
    assert "Your balance is 2.50 credits (about 2 h 1 min of audio)." in mail.outbox[-1].body

    stopped = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=stopped, characters=3_201)
    conversion_refund(conversion_uuid=stopped, rendered_characters=1_000)
    failed = finished_conversion(
        owner, status=Conversion.Status.FAILED, error_message="A Part failed.", uuid=stopped
    )
    conversion_finished_email_send(conversion_id=failed.pk)
    body = mail.outbox[-1].body
    assert "the credits for the rest have been refunded (0.05 credits):" in body  # 7 charged, 2 rendered
    assert "Your balance is 2.48 credits" in body


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
        owner, status=Conversion.Status.COMPLETED, duration_ms=1, operator_job=True, charge_hundredths=0
    )
    assert not conversion_finished_email_send(conversion_id=operator.pk)
    cancelled = finished_conversion(owner, status=Conversion.Status.CANCELLED, cancel_requested=True)
    assert not conversion_finished_email_send(conversion_id=cancelled.pk)
    assert mail.outbox == []
