"""The "Edit and history" page in a real browser (Debian's Chromium): edit a chapter, read the quote, confirm.

The audiobook is left as finished workers leave it (its Parts done), so no
worker runs here; the revision the reader confirms is checked in the database.
The page is checked with axe-core, at 360 px, and under the Content-Security-Policy
as every page of ``test_browser_journey`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from accounts.tests.conftest import PASSWORD, make_person
from audiobooks.models import Conversion
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.tests.factories import finish_as_workers_would, story_book
from credits.selectors import credit_balance_get
from credits.services import credits_grant_by_system
from tests.test_browser_journey import check_page, chromium, page  # noqa: F401
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db(transaction=True)


def finished_audiobook(owner: Any, directory: Path) -> Conversion:
    book = story_book(owner, directory, titles=("The Harbour", "Queequeg"), paragraphs_per_chapter=20)
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1], voice_key=DEFAULT_VOICE, speed=1.0
    )
    finish_as_workers_would(conversion, duration_ms=4000)
    return conversion


def test_a_reader_edits_a_chapter_sees_the_quote_and_confirms_it(page: Any, tmp_path: Path) -> None:  # noqa: F811
    reader = make_person("editor@example.com")
    credits_grant_by_system(user=reader, hundredths=500, reason="test")
    first = finished_audiobook(reader, tmp_path)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("editor@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/books/")

    page.goto(f"/books/{first.book.uuid}/")
    page.get_by_role("link", name="Edit and history").click()
    page.wait_for_url(f"**/books/{first.book.uuid}/revisions")
    sync_api.expect(page.locator("#history-title")).to_be_visible()
    assert "First made" in page.locator("ol.history").inner_text()
    check_page(page, "edit-and-history")

    page.get_by_role("link", name="2. Queequeg").click()
    text = page.get_by_label("Chapter 2: Queequeg").input_value()
    head, _, last = text.rpartition("\n\n")
    page.get_by_label("Chapter 2: Queequeg").fill(f"{head}\n\n{last.replace(' the ', ' THE ', 1)}")
    page.get_by_role("button", name="See what changes and its price").click()
    summary = page.locator("#quote-summary")
    sync_api.expect(summary).to_contain_text("1 part re-rendered")
    sync_api.expect(summary).to_contain_text("reused parts are free (3 of 4)")
    check_page(page, "edit-quote")
    balance = credit_balance_get(user=reader)

    page.get_by_role("button", name="Make it for").click()
    page.wait_for_url(f"**/books/{first.book.uuid}/")
    sync_api.expect(page.get_by_text("Making your audiobook again")).to_be_visible()
    # The book page's history lists the new revision with what it changed.
    sync_api.expect(page.locator("[data-book-history] li").first).to_contain_text(
        "Chapter 2 (Queequeg): text edited"
    )
    revision = Conversion.objects.get(revision_of=first)
    rendered = revision.parts.get(reused=False)
    assert "THE" in rendered.text
    assert revision.charge_hundredths == -(-rendered.characters // 500)
    assert credit_balance_get(user=reader) == balance - revision.charge_hundredths
    assert revision.changes == ["Chapter 2 (Queequeg): text edited"]
