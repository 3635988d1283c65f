"""Revisions through the API: only changed Parts charged, 409 while one runs or when nothing changes."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.lexicon.checks import EntryInput
from audiobooks.lexicon.services import lexicon_entry_create
from audiobooks.models import Conversion
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.tests.factories import finish_as_workers_would
from credits.models import CreditEntry, EntryKind
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tests.apiclient import assert_error, person_with_app, ready_book
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

TITLES = ("The Harbour", "Queequeg", "Morning")


@pytest.fixture
def reader(tmp_path, settings):
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}
    user, api = person_with_app("reader@example.com")
    credits_grant_by_system(user=user, hundredths=1000, reason="test")
    book = ready_book(user, tmp_path, titles=TITLES)
    conversion = conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=[0, 1, 2], voice_key=DEFAULT_VOICE, speed=1.0
    )
    return user, api, conversion


def revise(api, conversion: Conversion, **headers: str):
    return api.post(f"/api/v1/conversions/{conversion.uuid}/revisions", headers=headers)


def test_a_revision_charges_only_the_parts_a_fix_changed_and_replays_by_its_key(reader):
    user, api, first = reader
    finish_as_workers_would(first)
    lexicon_entry_create(user=user, book_uuid=None, entry=EntryInput("Queequeg", respelling="Kwee-kweg"))
    balance = credit_balance_get(user=user)

    answer = revise(api, first, **{"Idempotency-Key": "fix-1"})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    revision = Conversion.objects.get(uuid=body["id"])
    assert body["revision_of"] == str(first.uuid)
    changed = [part for part in revision.parts.select_related("chapter") if not part.reused]
    assert len(changed) == 1
    assert "Queequeg" in changed[0].text + changed[0].chapter.title
    assert body["characters"] - body["reused_characters"] == changed[0].characters
    assert body["credits_charged_hundredths"] == -(-changed[0].characters // 500)
    assert credit_balance_get(user=user) == balance - body["credits_charged_hundredths"]

    again = revise(api, first, **{"Idempotency-Key": "fix-1"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == body["id"]
    assert CreditEntry.objects.filter(kind=EntryKind.CHARGE).count() == 2

    # Cancelled before anything rendered: all of the revision's charge comes back, reused Parts included.
    conversion_cancel(user=user, conversion_uuid=revision.uuid)
    assert credit_balance_get(user=user) == balance
    assert not ledger_audit().mismatches


def test_a_revision_is_refused_with_409_while_the_book_is_being_made(reader):
    user, api, first = reader
    lexicon_entry_create(user=user, book_uuid=None, entry=EntryInput("Queequeg", respelling="Kwee-kweg"))
    charges = CreditEntry.objects.count()
    assert_error(revise(api, first), 409, "revision_running", "still being made")
    finish_as_workers_would(first)
    assert revise(api, first).status_code == 201
    assert_error(revise(api, first), 409, "revision_running")
    assert CreditEntry.objects.count() == charges + 1
    assert Conversion.objects.count() == 2


def test_a_revision_that_would_change_nothing_is_refused_and_charges_nothing(reader):
    _, api, first = reader
    finish_as_workers_would(first)
    charges = CreditEntry.objects.count()
    assert_error(revise(api, first), 409, "revision_unchanged", "Nothing would change")
    assert CreditEntry.objects.count() == charges
    assert Conversion.objects.count() == 1


def browser_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_book_page_quotes_a_revision_before_the_reader_confirms_it(reader):
    user, _, first = reader
    finish_as_workers_would(first)
    browser = browser_of(user)
    page = browser.get(f"/books/{first.book.uuid}/lexicon")
    assert "See what would change and its price" in page.content.decode()
    assert (
        browser.get(f"/books/{first.book.uuid}/lexicon?quote=1")
        .content.decode()
        .count("Nothing would change")
        == 1
    )

    lexicon_entry_create(
        user=user, book_uuid=first.book.uuid, entry=EntryInput("Queequeg", respelling="Kwee-kweg")
    )
    quoted = browser.get(f"/books/{first.book.uuid}/lexicon?quote=1").content.decode()
    changed = first.parts.select_related("chapter").get(chapter__title="Queequeg")
    cost = -(-changed.characters // 500)
    assert f"1 of {first.parts.count()} parts would change" in quoted
    assert f"Make it again for 0.{cost:02d}" in quoted
    balance = credit_balance_get(user=user)

    answer = browser.post(f"/books/{first.book.uuid}/revise", {"conversion": str(first.uuid)})
    assert answer.status_code == 302
    revision = Conversion.objects.get(revision_of=first)
    assert revision.charge_hundredths == cost
    assert credit_balance_get(user=user) == balance - cost

    again = browser.post(f"/books/{first.book.uuid}/revise", {"conversion": str(first.uuid)})
    assert again.status_code == 409
    assert "still being made" in again.content.decode()
    assert Conversion.objects.count() == 2


def test_revising_another_readers_audiobook_is_not_found(reader):
    _, _, first = reader
    finish_as_workers_would(first)
    stranger, _ = person_with_app("stranger@example.com")
    answer = browser_of(stranger).post(f"/books/{first.book.uuid}/revise", {"conversion": str(first.uuid)})
    assert answer.status_code == 404
    assert Conversion.objects.count() == 1
