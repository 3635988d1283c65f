"""Revisions that edit a chapter's text or speed, or go back: what is reused, charged, refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils.html import escape

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.ingest.chapters import MAX_CHAPTER_CHARS
from audiobooks.models import Conversion, ConversionChapter, StoredObject
from audiobooks.pipeline.places import ChapterTimeline, Spoken, place_moved
from audiobooks.pipeline.sources import cached_part_key
from audiobooks.pipeline.submit import conversion_cancel, conversion_submit
from audiobooks.tests.factories import finish_as_workers_would, story_book
from credits.models import CreditEntry
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tests.apiclient import assert_error, person_with_app, ready_book
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

TITLES = ("The Harbour", "Queequeg", "Morning")
PARAGRAPHS = 20  # about 3,000 characters a chapter: two Parts each


def ceil_hundredths(characters: int) -> int:
    return -(-characters // 500)


@pytest.fixture
def reader(tmp_path, settings):
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h"}
    user, api = person_with_app("reader@example.com")
    credits_grant_by_system(user=user, hundredths=2000, reason="test")
    book = story_book(user, tmp_path, titles=TITLES, paragraphs_per_chapter=PARAGRAPHS)
    conversion = conversion_submit(
        user=user, book_uuid=book.uuid, chapter_indexes=[0, 1, 2], voice_key=DEFAULT_VOICE, speed=1.0
    )
    return user, api, conversion


def revise(api, conversion: Conversion, body: dict | None = None, **headers: str):
    return api.post(
        f"/api/v1/conversions/{conversion.uuid}/revisions", body or {}, format="json", headers=headers
    )


def quote(api, conversion: Conversion, body: dict):
    return api.post(f"/api/v1/conversions/{conversion.uuid}/revisions/quote", body, format="json")


def chapter_text(conversion: Conversion, number: int) -> str:
    return conversion.selections.select_related("chapter").get(position=number - 1).chapter.text


def edited(text: str) -> str:
    """The chapter with one word fixed in its last paragraph (an OCR error, say)."""
    head, _, last = text.rpartition("\n\n")
    return f"{head}\n\n{last.replace(' the ', ' THE ', 1)}"


def test_an_edited_chapter_renders_only_its_changed_parts_and_charges_their_characters(reader):
    user, api, first = reader
    finish_as_workers_would(first)
    text = chapter_text(first, 2)
    new_text = edited(text)
    assert new_text != text
    balance = credit_balance_get(user=user)
    body = {"chapters": [{"number": 2, "text": new_text}]}

    quoted = quote(api, first, body)
    assert quoted.status_code == 200, quoted.content
    answer = revise(api, first, body)
    assert answer.status_code == 201, answer.content
    revision = Conversion.objects.get(uuid=answer.json()["id"])
    parts = list(revision.parts.select_related("chapter").order_by("index"))
    rendered = [part for part in parts if not part.reused]
    assert rendered, "the edit changes the Part that holds the word"
    assert {part.chapter.title for part in rendered} == {"Queequeg"}
    assert [part.pk for part in rendered] == [part.pk for part in parts if "THE" in part.text]
    assert len([part for part in parts if part.chapter.title == "Queequeg"]) == 2
    characters = sum(part.characters for part in rendered)
    assert revision.characters - revision.reused_characters == characters
    assert revision.charge_hundredths == ceil_hundredths(characters)
    assert credit_balance_get(user=user) == balance - revision.charge_hundredths
    assert quoted.json()["parts_rendered"] == len(rendered)
    assert quoted.json()["credits_hundredths"] == revision.charge_hundredths
    assert revision.changes == ["Chapter 2 (Queequeg): text edited"]
    assert answer.json()["chapters"][1]["text_edited"] is True
    assert ConversionChapter.objects.get(conversion=revision, position=1).text == new_text
    assert "THE" in " ".join(part.text for part in rendered)
    assert not ledger_audit().mismatches


def test_an_edit_carries_over_to_the_next_revision_and_a_chapter_can_be_slower(reader):
    _, api, first = reader
    finish_as_workers_would(first)
    new_text = edited(chapter_text(first, 2))
    edit = Conversion.objects.get(
        uuid=revise(api, first, {"chapters": [{"number": 2, "text": new_text}]}).json()["id"]
    )
    finish_as_workers_would(edit)

    answer = revise(api, edit, {"chapters": [{"number": 3, "speed": 1.25}]})
    assert answer.status_code == 201, answer.content
    slower = Conversion.objects.get(uuid=answer.json()["id"])
    parts = list(slower.parts.select_related("chapter"))
    assert all(part.reused == (part.chapter.title != "Morning") for part in parts)
    assert {part.speed for part in parts if part.chapter.title == "Morning"} == {1.25}
    assert {part.speed for part in parts if part.chapter.title != "Morning"} == {None}
    assert slower.charge_hundredths == ceil_hundredths(
        sum(part.characters for part in parts if part.chapter.title == "Morning")
    )
    chapters = {c.position: c for c in slower.selections.all()}
    assert chapters[1].text == new_text  # the earlier edit stays
    assert (chapters[2].speed, chapters[0].speed) == (1.25, None)
    assert slower.changes == ["Chapter 3 (Morning): speed 1.25×"]


@pytest.mark.parametrize(
    ("edit", "status", "code"),
    [
        ({"number": 2, "text": ""}, 400, "chapter_text_empty"),
        ({"number": 2, "text": " \n\n\u200b \t\n"}, 400, "chapter_text_empty"),
        ({"number": 2, "text": "*** — … ***\n\n* * *"}, 400, "chapter_text_unspeakable"),
        ({"number": 2, "text": "word " * (MAX_CHAPTER_CHARS // 5 + 1)}, 413, "chapter_text_too_long"),
        ({"number": 4, "text": "A new text."}, 404, "chapter_not_in_audiobook"),
        ({"number": 2}, 400, "chapter_edit_invalid"),
        ({"number": 2, "speed": 2.5}, 400, "invalid"),
    ],
)
def test_a_bad_chapter_edit_is_refused_and_charges_nothing(reader, edit, status, code):
    _, api, first = reader
    finish_as_workers_would(first)
    charges = CreditEntry.objects.count()
    answer = revise(api, first, {"chapters": [edit]})
    assert_error(answer, status, code)
    assert_error(quote(api, first, {"chapters": [edit]}), status, code)
    assert CreditEntry.objects.count() == charges
    assert Conversion.objects.count() == 1


def test_the_same_chapter_twice_or_an_edit_with_a_revert_is_refused(reader):
    _, api, first = reader
    finish_as_workers_would(first)
    twice = {"chapters": [{"number": 2, "speed": 1.5}, {"number": 2, "text": "Hello there."}]}
    assert_error(revise(api, first, twice), 400, "chapter_edit_invalid", "twice")
    both = {"chapters": [{"number": 2, "speed": 1.5}], "revert_to": str(first.uuid)}
    assert_error(revise(api, first, both), 400, "chapter_edit_invalid", "not both")
    assert Conversion.objects.count() == 1


def test_an_edit_while_a_revision_runs_is_refused_with_409(reader):
    _, api, first = reader
    finish_as_workers_would(first)
    assert revise(api, first, {"chapters": [{"number": 1, "speed": 1.5}]}).status_code == 201
    answer = revise(api, first, {"chapters": [{"number": 2, "speed": 1.5}]})
    assert_error(answer, 409, "revision_running", "still being made")
    assert Conversion.objects.count() == 2


def test_an_edit_that_changes_nothing_is_refused(reader):
    _, api, first = reader
    finish_as_workers_would(first)
    same = {"chapters": [{"number": 2, "text": chapter_text(first, 2)}, {"number": 3, "speed": 1.0}]}
    assert_error(revise(api, first, same), 409, "revision_unchanged")


def test_the_same_idempotency_key_with_another_edit_is_refused_with_422(reader):
    user, api, first = reader
    finish_as_workers_would(first)
    assert (
        revise(
            api, first, {"chapters": [{"number": 1, "speed": 1.5}]}, **{"Idempotency-Key": "e-1"}
        ).status_code
        == 201
    )
    again = revise(api, first, {"chapters": [{"number": 1, "speed": 1.5}]}, **{"Idempotency-Key": "e-1"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    other = revise(api, first, {"chapters": [{"number": 1, "speed": 1.75}]}, **{"Idempotency-Key": "e-1"})
    assert_error(other, 422, "idempotency_key_reused")
    assert Conversion.objects.filter(owner=user).count() == 2


def test_going_back_is_free_from_stored_parts_and_charged_for_parts_no_longer_stored(reader):
    user, api, first = reader
    finish_as_workers_would(first)
    answer = revise(api, first, {"chapters": [{"number": 3, "speed": 1.5}]})
    faster = Conversion.objects.get(uuid=answer.json()["id"])
    finish_as_workers_would(faster)

    # The first audiobook's Parts, but for one, are still in the render cache.
    stored, gone = [], None
    for part in first.parts.order_by("index"):
        if part.chapter.title == "Morning" and gone is None:
            gone = part
            continue
        stored.append(part)
        StoredObject.objects.get_or_create(
            key=cached_part_key(part.cache_key),
            defaults={"kind": StoredObject.Kind.PART, "size": 10, "content_type": "audio/wav"},
        )
    assert gone is not None
    body = {"revert_to": str(first.uuid)}
    quoted = quote(api, faster, body)
    assert quoted.status_code == 200, quoted.content
    assert quoted.json()["parts_rendered"] == 1
    balance = credit_balance_get(user=user)

    back = revise(api, faster, body)
    assert back.status_code == 201, back.content
    reverted = Conversion.objects.get(uuid=back.json()["id"])
    assert [(p.cache_key, p.reused) for p in reverted.parts.order_by("index")] == [
        (p.cache_key, p.pk != gone.pk) for p in first.parts.order_by("index")
    ]
    assert reverted.charge_hundredths == ceil_hundredths(gone.characters)
    assert credit_balance_get(user=user) == balance - reverted.charge_hundredths
    assert reverted.speed == first.speed
    assert {c.speed for c in reverted.selections.all()} == {None}
    assert reverted.changes[0].startswith("Back to the revision of ")
    assert not ledger_audit().mismatches


def test_going_back_to_an_unknown_or_unfinished_revision_is_refused(reader, tmp_path):
    user, api, first = reader
    finish_as_workers_would(first)
    cancelled = Conversion.objects.get(
        uuid=revise(api, first, {"chapters": [{"number": 1, "speed": 1.5}]}).json()["id"]
    )
    conversion_cancel(user=user, conversion_uuid=cancelled.uuid)

    stranger, _ = person_with_app("stranger@example.com")
    credits_grant_by_system(user=stranger, hundredths=2000, reason="test")
    theirs = conversion_submit(
        user=stranger,
        book_uuid=ready_book(stranger, tmp_path / "stranger", titles=TITLES).uuid,
        chapter_indexes=[0],
        voice_key=DEFAULT_VOICE,
        speed=1.0,
    )
    charges = CreditEntry.objects.count()
    for target in ("00000000-0000-0000-0000-000000000000", str(theirs.uuid)):
        assert_error(revise(api, first, {"revert_to": target}), 404, "revision_target_unknown")
    assert_error(revise(api, first, {"revert_to": str(cancelled.uuid)}), 409, "revision_target_unfinished")
    assert_error(revise(api, first, {"revert_to": str(first.uuid)}), 409, "revision_unchanged")
    assert CreditEntry.objects.count() == charges


def timeline(number: int, *sentences: tuple[int, int, str]) -> ChapterTimeline:
    return ChapterTimeline(number=number, keys=[], sentences=[Spoken(*sentence) for sentence in sentences])


def test_a_place_moves_to_the_same_sentence_the_same_way_into_it():
    old = timeline(
        2, (0, 1000, "Title"), (1000, 3000, "Cut me."), (3000, 5000, "Keep me."), (5000, 6000, "End.")
    )
    new = timeline(2, (0, 1000, "Title"), (1000, 4000, "Keep me."), (4000, 5000, "End."))
    assert place_moved(3500, old, new) == 1000 + 750  # a quarter into "Keep me.", now 3 s long
    assert place_moved(5200, old, new) == 4200
    assert place_moved(500, old, new) == 500
    # In the sentence removed: where the text after it now begins.
    assert place_moved(1500, old, new) == 1000
    # Past the end: the end of the last sentence.
    assert place_moved(9000, old, new) == 5000


def browser_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_edit_page_quotes_a_chapter_edit_before_the_reader_confirms_it_and_lists_the_history(reader):
    user, _, first = reader
    finish_as_workers_would(first)
    browser = browser_of(user)
    book = first.book
    url = f"/books/{book.uuid}/revisions"
    assert url in browser.get(f"/books/{book.uuid}/").content.decode()
    page = browser.get(f"{url}?chapter=2").content.decode()
    assert "First made" in page
    text = chapter_text(first, 2)
    assert escape(text.split("\n\n")[0]) in page

    new_text = edited(text).replace("\n", "\r\n")  # as a browser posts a textarea
    quoted = browser.post(url, {"action": "quote", "chapter": "2", "text": new_text, "speed": "1.0"})
    assert quoted.status_code == 200, quoted.content
    body = quoted.content.decode()
    changed = [p for p in first.parts.filter(chapter__title="Queequeg") if "the" in p.text]
    assert "1 part re-rendered" in body
    assert "reused parts are free (5 of 6)" in body
    assert "Chapter 2 (Queequeg): text edited" in body
    assert not Conversion.objects.filter(revision_of=first).exists()
    balance = credit_balance_get(user=user)

    made = browser.post(url, {"action": "confirm", "chapter": "2", "text": new_text, "speed": "1.0"})
    assert made.status_code == 302
    revision = Conversion.objects.get(revision_of=first)
    rendered = revision.parts.get(reused=False)
    assert changed
    assert revision.charge_hundredths == ceil_hundredths(rendered.characters)
    assert f"{revision.charge_hundredths / 100:.2f}" in body
    assert credit_balance_get(user=user) == balance - revision.charge_hundredths

    running = browser.post(url, {"action": "quote", "chapter": "1", "speed": "1.5", "text": ""})
    assert running.status_code == 409
    assert "still being made" in running.content.decode()

    finish_as_workers_would(revision)
    history = browser.get(url).content.decode()
    assert "Chapter 2 (Queequeg): text edited" in history
    assert history.count("Go back to this") == 1
    back = browser.post(url, {"action": "revert-quote", "revert_to": str(first.uuid)})
    assert back.status_code == 200
    # No Part of the first is stored in this test: all are rendered again, at the normal price.
    assert "6 parts re-rendered" in back.content.decode()
    assert browser.post(url, {"action": "revert", "revert_to": str(first.uuid)}).status_code == 302
    assert Conversion.objects.filter(revision_of=revision).get().changes[0].startswith("Back to the revision")


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"action": "quote", "chapter": "2", "text": "   ", "speed": "1.0"}, 400, "empty"),
        ({"action": "quote", "chapter": "2", "text": "— * —", "speed": "1.0"}, 400, "no word"),
        ({"action": "quote", "chapter": "2", "text": "x " * 70_000, "speed": "1.0"}, 413, "at most"),
        ({"action": "quote", "chapter": "2", "speed": "fast"}, 400, "between"),
        ({"action": "quote", "chapter": "2", "speed": "9"}, 400, "between"),
        ({"action": "quote", "chapter": "9", "speed": "1.5"}, 404, "no chapter"),
        ({"action": "revert-quote", "revert_to": "not-a-uuid"}, 404, "no such revision"),
    ],
)
def test_a_bad_edit_on_the_page_is_the_page_again_with_its_reason(reader, form, status, says):
    user, _, first = reader
    finish_as_workers_would(first)
    answer = browser_of(user).post(f"/books/{first.book.uuid}/revisions", form)
    assert answer.status_code == status
    assert says in answer.content.decode()
    assert Conversion.objects.count() == 1


def test_another_readers_edit_page_is_not_found(reader):
    _, _, first = reader
    finish_as_workers_would(first)
    stranger, _ = person_with_app("stranger@example.com")
    browser = browser_of(stranger)
    url = f"/books/{first.book.uuid}/revisions"
    assert browser.get(url).status_code == 404
    assert browser.post(url, {"action": "confirm", "chapter": "1", "speed": "1.5"}).status_code == 404
    assert Conversion.objects.count() == 1


ODD = ["\u0663", "\u00b2", "9" * 30, "NaN", "Infinity", "1e309", "", " ", "a\x00b", "-1"]


def test_odd_values_in_every_field_of_the_edit_page_are_answered_below_500(reader):
    user, _, first = reader
    finish_as_workers_would(first)
    browser = browser_of(user)
    url = f"/books/{first.book.uuid}/revisions"
    defaults = {"action": "quote", "chapter": "2", "text": "A new text.", "speed": "1.0", "revert_to": ""}
    for field in defaults:
        for value in ODD:
            for action in ("quote", "revert-quote"):
                form = {**defaults, "action": action, field: value}
                answer = browser.post(url, form)
                assert answer.status_code < 500, (form, answer.status_code)
        assert browser.get(url, {"chapter": ODD[0]}).status_code == 200
    assert Conversion.objects.count() == 1


def test_going_back_to_parts_all_stored_charges_nothing_and_cancelling_it_refunds_nothing(reader):
    user, api, first = reader
    finish_as_workers_would(first)
    faster = Conversion.objects.get(
        uuid=revise(api, first, {"chapters": [{"number": 3, "speed": 1.5}]}).json()["id"]
    )
    finish_as_workers_would(faster)
    for part in first.parts.all():
        StoredObject.objects.get_or_create(
            key=cached_part_key(part.cache_key),
            defaults={"kind": StoredObject.Kind.PART, "size": 10, "content_type": "audio/wav"},
        )
    entries = CreditEntry.objects.count()
    back = revise(api, faster, {"revert_to": str(first.uuid)})
    assert back.status_code == 201, back.content
    assert back.json()["credits_charged_hundredths"] == 0
    reverted = Conversion.objects.get(uuid=back.json()["id"])
    assert all(part.reused for part in reverted.parts.all())
    conversion_cancel(user=user, conversion_uuid=reverted.uuid)
    assert CreditEntry.objects.count() == entries
    assert not ledger_audit().mismatches
