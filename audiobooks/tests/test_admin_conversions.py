"""Staff and conversions in the admin: Parts with attempts and errors, retrying failed Parts, cancelling."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audiobooks.models import Book, Conversion, Part
from audiobooks.pipeline.outcomes import part_fail
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.tests.factories import CORPUS, ingest_now, upload_file
from credits.models import CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:audiobooks_conversion_changelist")


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h", "upload": "1000/h"}


@pytest.fixture
def conversion(owner) -> Conversion:
    book = upload_file(owner, CORPUS / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    book = Book.objects.get(pk=book.pk)
    credits_grant_by_system(user=owner, hundredths=500, reason="test float")
    index = book.chapters.filter(included=True).values_list("index", flat=True)[0]
    return conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[index], voice_key=DEFAULT_VOICE, speed=1.0
    )


@pytest.fixture
def failed(conversion) -> Conversion:
    part = conversion.parts.order_by("index").first()
    Part.objects.filter(pk=part.pk).update(attempts=3, worker="cpu@box-1")
    part_fail(part_id=part.pk, error="EngineError: the model file is truncated")
    conversion.refresh_from_db()
    assert conversion.status == Conversion.Status.FAILED
    return conversion


def staff_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, action: str, *conversions: Conversion):
    """Run an action and follow back to the list, which shows (and so uses up) its messages."""
    selected = {"action": action, "_selected_action": [c.pk for c in conversions]}
    return client.post(CHANGELIST, selected, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_every_model_of_our_apps_is_in_the_admin():
    from django.apps import apps

    ours = [m for app in ("accounts", "audiobooks", "credits") for m in apps.get_app_config(app).get_models()]
    assert [m.__name__ for m in ours if m not in site._registry] == []


def test_the_conversions_list_shows_parts_done_failures_attempts_and_the_error(staff, failed):
    page = staff_client(staff).get(CHANGELIST, {"status": "failed"})
    assert page.status_code == 200
    html = page.content.decode()
    total = failed.parts.count()
    assert f"0/{total}" in html
    assert "could not be rendered after 3 attempts" in html
    assert "Retry the failed Parts" in html
    assert "Cancel the selected conversions" in html


def test_the_conversion_page_shows_its_chapters_and_parts_with_attempts_workers_and_errors(staff, failed):
    Conversion.objects.filter(pk=failed.pk).update(changes=["Chapter 1 (The Harbour): read at 1.25×"])
    page = staff_client(staff).get(reverse("admin:audiobooks_conversion_change", args=[failed.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "EngineError: the model file is truncated" in html
    assert "cpu@box-1" in html
    assert "Charge and refund of this conversion" in html
    assert "0%" in html
    assert "Chapter 1 (The Harbour): read at 1.25×" in html


def test_the_conversions_list_takes_as_many_queries_for_two_conversions_as_for_one(
    staff, owner, conversion, django_assert_num_queries
):
    client = staff_client(staff)
    client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as one:
        client.get(CHANGELIST)
    index = conversion.book.chapters.filter(included=True).values_list("index", flat=True)[1]
    conversion_submit(
        user=owner,
        book_uuid=conversion.book.uuid,
        chapter_indexes=[index],
        voice_key=DEFAULT_VOICE,
        speed=1.0,
    )
    with django_assert_num_queries(len(one)):
        assert client.get(CHANGELIST).status_code == 200


def test_staff_retry_the_failed_parts_and_the_conversion_runs_again_without_a_new_charge(staff, failed):
    charges = CreditEntry.objects.filter(kind=EntryKind.CHARGE).count()
    response = act(staff_client(staff), "retry_failed_parts", failed)
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == Conversion.Status.SYNTHESIZING
    assert failed.error_message == ""
    assert not failed.parts.filter(status=Part.Status.FAILED).exists()
    assert set(failed.parts.values_list("attempts", flat=True)) == {0}
    assert CreditEntry.objects.filter(kind=EntryKind.CHARGE).count() == charges
    assert messages_of(response)[0].startswith(f"Retrying {failed.uuid} (")


def test_retrying_a_conversion_that_has_not_failed_is_refused_with_a_message(staff, conversion):
    response = act(staff_client(staff), "retry_failed_parts", conversion)
    assert messages_of(response) == [
        f"Not retried: {conversion.uuid}: Only a failed conversion can be retried."
    ]
    conversion.refresh_from_db()
    assert conversion.status == Conversion.Status.QUEUED


def test_staff_cancel_a_running_conversion_and_the_reader_is_refunded_once(staff, owner, conversion):
    balance = credit_balance_get(user=owner)
    client = staff_client(staff)
    response = act(client, "cancel_conversions", conversion)
    assert messages_of(response) == [f"Cancelled and refunded: {conversion.uuid}."]
    conversion.refresh_from_db()
    assert conversion.status == Conversion.Status.CANCELLED
    assert credit_balance_get(user=owner) == balance + conversion.charge_hundredths
    again = act(client, "cancel_conversions", conversion)
    assert messages_of(again) == [f"Already finished, nothing to cancel: {conversion.uuid} (cancelled)."]
    assert credit_balance_get(user=owner) == balance + conversion.charge_hundredths
    assert not ledger_audit().mismatches


def test_cancelling_a_failed_conversion_is_refused_and_refunds_nothing_more(staff, owner, failed):
    balance = credit_balance_get(user=owner)
    response = act(staff_client(staff), "cancel_conversions", failed)
    assert messages_of(response) == [f"Already finished, nothing to cancel: {failed.uuid} (failed)."]
    assert credit_balance_get(user=owner) == balance


def viewer_client() -> Client:
    viewer = User.objects.create_user("viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_conversion"))
    return staff_client(viewer)


def test_staff_who_may_only_view_conversions_see_no_actions_and_cannot_retry(failed):
    client = viewer_client()
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert b"retry_failed_parts" not in page.content
    assert b"cancel_conversions" not in page.content
    act(client, "retry_failed_parts", failed)
    failed.refresh_from_db()
    assert failed.status == Conversion.Status.FAILED


def test_staff_who_may_only_view_conversions_cannot_cancel(conversion):
    act(viewer_client(), "cancel_conversions", conversion)
    conversion.refresh_from_db()
    assert conversion.status == Conversion.Status.QUEUED


def test_conversions_parts_and_their_chapters_cannot_be_edited_or_deleted_in_the_admin(staff, conversion):
    client = staff_client(staff)
    part = conversion.parts.first()
    assert client.get(reverse("admin:audiobooks_conversion_add")).status_code == 403
    assert client.get(reverse("admin:audiobooks_part_delete", args=[part.pk])).status_code == 403
    page = client.get(reverse("admin:audiobooks_part_change", args=[part.pk]))
    assert page.status_code == 200
    assert b'name="status"' not in page.content, "read-only"
    assert (
        client.get(reverse("admin:audiobooks_part_changelist"), {"q": str(conversion.uuid)}).status_code
        == 200
    )
    assert client.get(reverse("admin:audiobooks_conversionchapter_changelist")).status_code == 200


def test_a_reader_cannot_open_the_conversions_admin(client, owner, conversion):
    client.force_login(owner)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/login" in response["Location"]
