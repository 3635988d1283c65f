"""The reader's web pages: library, new audiobook, picker and Convert, book page, player helpers, credits."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from audiobooks import prices
from audiobooks.models import Book, Conversion, ConversionChapter, ListeningProgress, StoredObject
from audiobooks.pipeline.parts import chapter_parts
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.selectors import storage_used_bytes
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.services import stored_object_save
from audiobooks.tests.factories import CORPUS, ingest_now, story_book, upload_file
from audiobooks.tests.ingest_fixtures import EpubSpec, nav_list, story_epub, xhtml
from credits.models import CreditEntry, EntryKind
from credits.pricing import describe_credits, format_credits, quote_hundredths
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

TITLES = ("The Harbour", "The Storm", "Morning")


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.CREDITS_RATE_LIMITS = {"conversion": "1000/h", "upload": "1000/h", "text_preview": "1000/h"}


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ready_book(user: User, directory: Path, titles: tuple[str, ...] = TITLES) -> Book:
    return story_book(user, directory, titles=titles)


def url(name: str, book: Book, **kwargs: Any) -> str:
    return reverse(f"audiobooks:{name}", kwargs={"book_uuid": book.uuid, **kwargs})


def convert_form(book: Book, **overrides: Any) -> dict[str, Any]:
    return {
        "chapter": [str(c.index) for c in book.chapters.all()],
        "voice": DEFAULT_VOICE,
        "speed": "1.0",
        "idempotency_key": uuid.uuid4().hex,
        **overrides,
    }


def html(response: Any) -> str:
    return response.content.decode()


# --- Landing and library -----------------------------------------------------------------------


def test_a_visitor_sees_the_landing_page_and_a_reader_is_sent_to_their_library(client, owner):
    landing = client.get("/")
    assert landing.status_code == 200
    assert "Your ebooks, read aloud." in html(landing)
    response = signed_in(owner).get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("audiobooks:library")


def test_the_library_shows_the_readers_own_books_with_their_state_and_balance(owner, stranger, tmp_path):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    mine = ready_book(owner, tmp_path)
    theirs = upload_file(stranger, story_epub(tmp_path, titles=TITLES, name="s.epub", title="Not Yours"))
    page = signed_in(owner).get(reverse("audiobooks:library"))
    assert page.status_code == 200
    text = html(page)
    assert "The Lighthouse" in text
    assert url("book-detail", mine) in text
    assert "Ready to convert" in text
    assert "Not Yours" not in text
    assert str(theirs.uuid) not in text
    assert "<strong>3.00</strong> credits · 2 h 25 min" in text  # 150,000 characters at joe's 17.2 a second


def test_the_library_poll_answers_the_grid_alone_and_polls_while_a_book_is_read(owner, tmp_path):
    upload_file(owner, story_epub(tmp_path, titles=TITLES))  # not ingested yet
    partial = signed_in(owner).get(reverse("audiobooks:library") + "?partial=1")
    assert partial.status_code == 200
    text = html(partial)
    assert "<html" not in text
    assert 'data-polling="true"' in text
    assert "Reading the book" in text


def test_an_empty_library_invites_the_first_upload(owner):
    text = html(signed_in(owner).get(reverse("audiobooks:library")))
    assert "Turn your first ebook into an audiobook" in text
    assert reverse("audiobooks:book-new") in text


def test_the_new_audiobook_page_offers_the_upload_with_the_readers_limit(owner, settings):
    settings.CREDITS_MAX_UPLOAD_BYTES = 5_000_000
    text = html(signed_in(owner).get(reverse("audiobooks:book-new")))
    assert 'data-limit-bytes="5000000"' in text
    assert f'action="{reverse("audiobooks:book-upload")}"' in text
    assert 'accept=".epub,.pdf,.txt,.html,.htm,.xhtml"' in text


@pytest.mark.parametrize("name", ["library", "book-new", "credits"])
def test_someone_signed_out_is_sent_to_sign_in_from_the_pages(client, name):
    response = client.get(reverse(f"audiobooks:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- Refusals are human pages --------------------------------------------------------------


def test_a_file_that_is_not_a_book_is_refused_with_a_page_that_says_what_to_upload(owner):
    response = signed_in(owner).post(
        reverse("audiobooks:book-upload"), {"file": ContentFile(b"MZ\x90\x00", name="setup.exe")}
    )
    assert response.status_code == 415
    text = html(response)
    assert "upload an EPUB, PDF, TXT or HTML file" in text
    assert "Traceback" not in text
    assert reverse("audiobooks:book-new") in text


def test_an_upload_over_the_rate_limit_is_a_429_page_with_retry_after(owner, settings):
    settings.CREDITS_RATE_LIMITS = {"upload": "0/h"}
    response = signed_in(owner).post(
        reverse("audiobooks:book-upload"), {"file": ContentFile(b"PK\x03\x04", name="a.epub")}
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Please try again in" in html(response)


def test_a_drm_protected_book_says_so_on_its_page(owner, django_capture_on_commit_callbacks):
    book = upload_file(owner, CORPUS / "bad" / "probe_encrypted_chapter.epub")
    book = ingest_now(book)
    client = signed_in(owner)
    detail = client.get(url("book-detail", book))
    assert detail.status_code == 302
    page = client.get(detail["Location"])
    assert page.status_code == 200
    text = html(page)
    assert "We couldn’t read this book." in text
    assert "DRM" in text
    assert url("book-delete", book) in text


def test_an_unknown_page_is_a_friendly_404(owner):
    response = signed_in(owner).get("/books/not-a-page")
    assert response.status_code == 404
    assert "We can’t find that page" in html(response)


# --- Another reader's book ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method", "extra"),
    [
        ("book-detail", "get", {}),
        ("book-convert", "get", {}),
        ("book-convert", "post", {}),
        ("book-quote", "get", {}),
        ("book-status", "get", {}),
        ("book-delete", "post", {}),
        ("book-position", "get", {}),
        ("book-position", "post", {}),
        ("book-captions", "get", {"number": 1}),
    ],
)
def test_another_readers_book_is_a_404_on_every_page(owner, stranger, tmp_path, name, method, extra):  # noqa: PLR0917
    book = ready_book(owner, tmp_path)
    response = getattr(signed_in(stranger), method)(url(name, book, **extra))
    assert response.status_code == 404
    assert Book.objects.filter(pk=book.pk).exists()


# --- Picker, quote and Convert ------------------------------------------------------------------


def test_a_book_being_read_shows_a_page_that_waits_for_it(owner, tmp_path):
    book = upload_file(owner, story_epub(tmp_path, titles=TITLES))
    client = signed_in(owner)
    assert client.get(url("book-detail", book))["Location"] == url("book-convert", book)
    text = html(client.get(url("book-convert", book)))
    assert "Reading your book…" in text
    assert f'data-wait-for-book="{url("book-status", book)}"' in text
    status = client.get(url("book-status", book)).json()
    assert (status["state"], status["active"], status["conversion"]) == ("reading", True, None)


def test_the_picker_lists_the_chapters_voices_speed_and_quote(owner, tmp_path):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    page = signed_in(owner).get(url("book-convert", book))
    assert page.status_code == 200
    context = page.context
    assert [row["chapter"].title for row in context["rows"]] == list(TITLES)
    assert all(row["checked"] for row in context["rows"])
    assert DEFAULT_VOICE in [voice.key for voice in context["voices"]]
    assert context["voice_key"] == DEFAULT_VOICE
    quote = context["quote"]
    assert quote.cost_hundredths == -(-quote.characters // 500)
    assert quote.balance_hundredths == 300
    assert context["preselection_note"] is None, "3 credits pay for the whole of this short book"
    text = html(page)
    assert (
        f"<span data-quote-credits>{quote.cost.credits}</span> <span data-quote-credits-noun>credits" in text
    )
    assert "<span data-quote-balance>3.00</span> <span data-quote-balance-noun>credits</span>" in text
    assert "(<span data-quote-balance-audio>2 h 25 min</span>)" in text
    assert f'value="{DEFAULT_VOICE}" checked' in text
    assert reverse("audiobooks:voice-preview", kwargs={"voice_key": DEFAULT_VOICE}) in text
    assert 'name="idempotency_key"' in text
    assert "data-language-warning" in text
    assert "hidden" in text


def test_the_sherlock_holmes_picker_ticks_the_twelve_stories_and_not_the_front_and_back_matter(owner):
    credits_grant_by_system(user=owner, hundredths=2_000, reason="enough for the whole book")
    book = upload_file(owner, CORPUS / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    rows = signed_in(owner).get(url("book-convert", book)).context["rows"]
    ticked = [row["chapter"].title for row in rows if row["checked"]]
    assert len(ticked) == 12
    assert ticked[0] == "A Scandal in Bohemia"
    unticked = [row["chapter"] for row in rows if not row["checked"]]
    assert unticked
    assert all(chapter.exclusion_reason for chapter in unticked)


def test_on_a_three_credit_balance_the_sherlock_picker_opens_on_the_stories_three_credits_pay_for(owner):
    credits_grant_by_system(user=owner, hundredths=300, reason="the free credits")
    book = upload_file(owner, CORPUS / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    client = signed_in(owner)
    page = client.get(url("book-convert", book))
    rows = page.context["rows"]
    body = [row["chapter"] for row in rows if row["chapter"].included]
    # What 3 credits pay for, counted here from the chapters: whole stories in reading order.
    covered, characters = [], 0
    for chapter in body:
        if -(-(characters + chapter.chars) // 500) > 300:
            break
        covered.append(chapter)
        characters += chapter.chars
    assert 1 <= len(covered) < len(body) == 12
    assert [row["chapter"].index for row in rows if row["checked"]] == [chapter.index for chapter in covered]
    assert covered[0].title == "A Scandal in Bohemia"

    quote = page.context["quote"]
    assert quote.affordable
    assert quote.cost_hundredths <= 300
    text = html(page)
    assert "data-convert-button disabled" not in text
    assert "data-quote-short hidden" in text
    whole = -(-sum(chapter.chars for chapter in body) // 500)
    minutes = int(characters / 17.2) // 60
    note = (
        f"Your 3.00 credits cover chapters {covered[0].index + 1}–{covered[-1].index + 1} "
        f"({minutes // 60} h {minutes % 60} min). The whole book needs {format_credits(whole)} credits."
    )
    assert page.context["preselection_note"] == note
    assert note in text
    # What the picker opened on can be converted as it stands: the charge fits the balance.
    form = convert_form(book, chapter=[str(chapter.index) for chapter in covered])
    assert client.post(url("book-convert", book), form).status_code == 302
    assert CreditEntry.objects.get(user=owner, kind=EntryKind.CHARGE).amount >= -300


def test_a_balance_that_pays_for_no_whole_chapter_opens_on_nothing_and_says_so(owner):
    credits_grant_by_system(user=owner, hundredths=5, reason="a little")
    book = upload_file(owner, CORPUS / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    page = signed_in(owner).get(url("book-convert", book))
    assert not any(row["checked"] for row in page.context["rows"])
    first = next(row["chapter"] for row in page.context["rows"] if row["chapter"].included)
    assert page.context["preselection_note"].startswith(
        f"Your 0.05 credits do not cover chapter {first.index + 1}, which needs "
        f"{describe_credits(-(-first.chars // 500))}. The whole book needs "
    )


def test_the_picker_warns_when_the_voice_speaks_another_language_than_the_book(owner, tmp_path):
    spec = EpubSpec(
        documents=[
            ("c1.xhtml", xhtml("<h1>Le port</h1><p>" + "La mer était calme ce matin-là. " * 20 + "</p>"))
        ],
        nav=nav_list([("Le port", "c1.xhtml")]),
        title="Le Phare",
        language="fr",
    )
    book = upload_file(owner, spec.write(tmp_path, "fr.epub"))
    book = ingest_now(book)
    text = html(signed_in(owner).get(url("book-convert", book)))
    assert "but the book is in fr" in text
    quote = signed_in(owner).get(url("book-quote", book), {"chapter": "0", "voice": DEFAULT_VOICE}).json()
    assert "but the book is in fr" in quote["language_warning"]


def test_the_quote_follows_the_chosen_chapters_and_tells_the_shortfall(owner, tmp_path, settings):
    settings.CREDITS_CHARS_PER_CREDIT = 500
    credits_grant_by_system(user=owner, hundredths=100, reason="test")
    book = ready_book(owner, tmp_path)
    client = signed_in(owner)
    one = client.get(url("book-quote", book), {"chapter": ["0"], "voice": DEFAULT_VOICE}).json()
    every = client.get(url("book-quote", book), {"chapter": ["0", "1", "2"], "voice": DEFAULT_VOICE}).json()
    assert one["characters"] == book.chapters.get(index=0).chars
    assert one["credits_hundredths"] == -(-one["characters"] // 5)  # 500 characters a credit: 5 a hundredth
    assert every["characters"] > one["characters"]
    assert every["credits_hundredths"] > one["credits_hundredths"]
    assert (every["balance"], every["balance_hundredths"], every["balance_noun"]) == ("1.00", 100, "credit")
    assert every["balance_audio"] == "0 min"  # 500 characters: 29 s of joe
    assert every["affordable"] is False
    assert every["shortfall_hundredths"] == every["credits_hundredths"] - 100
    assert every["shortfall"] == f"{every['shortfall_hundredths'] / 100:.2f}"
    nothing = client.get(url("book-quote", book), {"chapter": ["x"], "voice": DEFAULT_VOICE}).json()
    assert (nothing["characters"], nothing["credits"], nothing["credits_hundredths"]) == (0, "0.00", 0)


def test_the_quote_says_the_listening_time_at_the_chosen_speed(owner, tmp_path):
    book = ready_book(owner, tmp_path)
    client = signed_in(owner)
    chosen = {"chapter": ["0", "1", "2"], "voice": DEFAULT_VOICE}
    normal = client.get(url("book-quote", book), {**chosen, "speed": "1.0"}).json()
    fast = client.get(url("book-quote", book), {**chosen, "speed": "1.5"}).json()
    assert normal["credits"] == fast["credits"], "the price is for the text, whatever the speed"
    characters = normal["characters"]
    assert normal["audio"] == prices.format_duration(int(characters / 17.2))
    assert fast["audio"] == prices.format_duration(int(characters / (17.2 * 1.5)))


def test_convert_starts_the_conversion_of_the_ticked_chapters_and_opens_the_book_page(owner, tmp_path):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, chapter=["0", "2"]))
    assert response.status_code == 302
    assert response["Location"] == url("book-detail", book)
    conversion = Conversion.objects.get(book=book)
    titles = [s.chapter.title for s in conversion.selections.order_by("position")]
    assert titles == ["The Harbour", "Morning"]
    assert (conversion.voice_key, conversion.speed) == (DEFAULT_VOICE, 1.0)


def test_a_double_click_on_convert_starts_one_conversion_and_charges_once(owner, tmp_path):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    client = signed_in(owner)
    form = convert_form(book)
    first = client.post(url("book-convert", book), form)
    second = client.post(url("book-convert", book), form)
    assert first.status_code == second.status_code == 302
    assert Conversion.objects.filter(book=book).count() == 1
    assert CreditEntry.objects.filter(user=owner, kind=EntryKind.CHARGE).count() == 1


def test_convert_without_enough_credits_is_refused_on_the_page_and_keeps_the_choice(owner, tmp_path):
    book = ready_book(owner, tmp_path)  # no credits at all
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, chapter=["1"]))
    assert response.status_code == 402
    text = html(response)
    assert "We couldn’t start this conversion." in text
    needs = quote_hundredths(sum(len(p.text) for p in chapter_parts(text=book.chapters.get(index=1).text)))
    assert f"This conversion needs {describe_credits(needs)} and you have 0.00." in text
    assert [row["checked"] for row in response.context["rows"]] == [False, True, False]
    assert not Conversion.objects.exists()


def test_convert_with_no_chapter_ticked_is_refused_on_the_page(owner, tmp_path):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, chapter=[]))
    assert response.status_code == 400
    assert "Choose at least one chapter to convert." in html(response)
    assert not Conversion.objects.exists()


def test_convert_with_a_voice_that_does_not_exist_is_refused_on_the_page(owner, tmp_path):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, voice="piper:nobody"))
    assert response.status_code == 400
    assert "Please choose one from the list." in html(response)


@pytest.mark.parametrize("speed", ["fast", "3"])
def test_convert_at_a_speed_out_of_range_is_refused_on_the_page(owner, tmp_path, speed):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, speed=speed))
    assert response.status_code == 400
    assert "Speed must be a number between" in html(response)


def test_convert_past_the_rate_limit_is_a_429_with_retry_after_and_no_charge(owner, tmp_path, settings):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    settings.CREDITS_RATE_LIMITS = {"conversion": "0/h"}
    response = signed_in(owner).post(url("book-convert", book), convert_form(book))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "You have reached the limit of 0 conversions per hour." in html(response)
    assert not CreditEntry.objects.filter(kind=EntryKind.CHARGE).exists()


def test_convert_over_the_storage_quota_is_refused_on_the_page(owner, tmp_path, settings):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    # The book's files (its original, and the cover drawn for it) fit; the audiobook would not.
    used = storage_used_bytes(user=owner)
    settings.CREDITS_STORAGE_QUOTA_BYTES = {"free": used + 10, "premium": 10**12}
    response = signed_in(owner).post(url("book-convert", book), convert_form(book))
    assert response.status_code == 413
    assert "Delete some books to make room." in html(response)


def test_a_book_still_being_read_cannot_be_converted(owner, tmp_path):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = upload_file(owner, story_epub(tmp_path, titles=TITLES))
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, chapter=["0"]))
    assert response.status_code == 409
    assert "not ready to convert yet" in html(response)


# --- Book page -------------------------------------------------------------------------------


def converting_book(owner: User, tmp_path: Path) -> tuple[Book, Conversion]:
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1, 2], voice_key=DEFAULT_VOICE, speed=1.0
    )
    return book, conversion


def finish_chapter(owner: User, book: Book, conversion: Conversion, number: int) -> None:
    """What mastering leaves behind for one chapter: its MP3, its captions, and the row marked ready."""
    stored_object_save(
        key=storage_keys.mp3_key(
            user_uuid=owner.uuid, book_uuid=book.uuid, conversion_uuid=conversion.uuid, number=number
        ),
        content=ContentFile(b"ID3" + b"\0" * 500),
        kind=StoredObject.Kind.MP3,
        owner=owner,
        book=book,
    )
    stored_object_save(
        key=storage_keys.captions_key(
            user_uuid=owner.uuid, book_uuid=book.uuid, conversion_uuid=conversion.uuid, number=number
        ),
        content=ContentFile(b"WEBVTT\n\n00:00.500 --> 00:02.000\nThe Harbour\n"),
        kind=StoredObject.Kind.VTT,
        owner=owner,
        book=book,
    )
    from django.utils import timezone

    ConversionChapter.objects.filter(conversion=conversion, position=number - 1).update(
        status=ConversionChapter.Status.READY, gain_db=0.0, duration_ms=65_000, finished_at=timezone.now()
    )


def test_the_book_page_shows_progress_and_plays_the_chapters_already_finished(owner, tmp_path):
    book, conversion = converting_book(owner, tmp_path)
    finish_chapter(owner, book, conversion, 1)
    client = signed_in(owner)
    page = client.get(url("book-detail", book))
    assert page.status_code == 200
    text = html(page)
    assert "Making your audiobook" in text
    assert url("conversion-cancel", book, conversion_uuid=conversion.uuid) in text
    mp3 = reverse("audiobooks:book-file", kwargs={"book_uuid": book.uuid, "name": "mp3/01.mp3"})
    assert f'data-src="{mp3}"' in text
    assert f'data-captions="{url("book-captions", book, number=1)}"' in text
    assert text.count('data-src=""') == 2  # chapters 2 and 3 are still rendering
    status = client.get(url("book-status", book)).json()
    assert status["state"] == "queued"
    assert status["active"] is True
    assert [c["ready"] for c in status["chapters"]] == [True, False, False]
    assert status["chapters"][0]["duration"] == "1 min"
    assert status["m4b_ready"] is False
    assert status["conversion"]["chapters_ready"] == 1


def test_the_book_page_links_the_m4b_the_mp3_zip_and_the_acx_export_when_it_exists(owner, tmp_path):
    book, conversion = converting_book(owner, tmp_path)
    finish_chapter(owner, book, conversion, 1)
    stored_object_save(
        key=storage_keys.m4b_key(user_uuid=owner.uuid, book_uuid=book.uuid, conversion_uuid=conversion.uuid),
        content=ContentFile(b"m4b"),
        kind=StoredObject.Kind.M4B,
        owner=owner,
        book=book,
    )
    text = html(signed_in(owner).get(url("book-detail", book)))
    m4b = reverse("audiobooks:book-file", kwargs={"book_uuid": book.uuid, "name": "book.m4b"})
    assert f'href="{m4b}?download=1" data-m4b-link>' in text
    assert f'href="{url("book-mp3-zip", book)}" data-mp3-link>' in text
    try:
        acx = url("book-acx-zip", book)
    except NoReverseMatch:
        assert "ACX export" not in text
    else:
        assert acx in text


def test_the_book_page_says_why_a_conversion_failed(owner, tmp_path):
    from django.utils import timezone

    book, conversion = converting_book(owner, tmp_path)
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.FAILED, error_message="The voice could not be loaded.",
        started_at=timezone.now(), finished_at=timezone.now(),
    )  # fmt: skip
    text = html(signed_in(owner).get(url("book-detail", book)))
    assert "This conversion could not be finished." in text
    assert "The voice could not be loaded." in text


def test_cancelling_a_running_conversion_refunds_and_a_second_cancel_is_refused_kindly(owner, tmp_path):
    book, conversion = converting_book(owner, tmp_path)
    client = signed_in(owner)
    cancel = url("conversion-cancel", book, conversion_uuid=conversion.uuid)
    first = client.post(cancel, follow=True)
    assert "Conversion cancelled." in html(first)
    conversion.refresh_from_db()
    assert conversion.status == Conversion.Status.CANCELLED
    from django.utils import timezone

    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.COMPLETED, duration_ms=1, started_at=timezone.now()
    )
    second = client.post(cancel, follow=True)
    assert "there is nothing to cancel" in html(second)


def test_deleting_a_book_removes_it_and_returns_to_the_library(owner, tmp_path):
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-delete", book), follow=True)
    assert response.redirect_chain[-1][0] == reverse("audiobooks:library")
    assert "Deleted “The Lighthouse”" in html(response)
    assert not Book.objects.filter(pk=book.pk).exists()
    assert not StoredObject.objects.filter(owner=owner).exists()


def test_deleting_is_a_post_only(owner, tmp_path):
    book = ready_book(owner, tmp_path)
    assert signed_in(owner).get(url("book-delete", book)).status_code == 405
    assert Book.objects.filter(pk=book.pk).exists()


# --- Player helpers -------------------------------------------------------------------------


def test_captions_come_from_this_site_as_webvtt(owner, tmp_path):
    book, conversion = converting_book(owner, tmp_path)
    finish_chapter(owner, book, conversion, 1)
    response = signed_in(owner).get(url("book-captions", book, number=1))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/vtt")
    assert b"".join(response.streaming_content).startswith(b"WEBVTT")  # type: ignore[attr-defined]
    assert signed_in(owner).get(url("book-captions", book, number=2)).status_code == 404


def test_the_listening_position_is_remembered_per_reader_and_book(owner, stranger, tmp_path):
    book = ready_book(owner, tmp_path)
    other = ready_book(owner, tmp_path / "..", titles=("One", "Two"))
    client = signed_in(owner)
    assert client.get(url("book-position", book)).json() == {}
    saved = client.post(url("book-position", book), {"chapter": "2", "seconds": "73.26"})
    assert saved.json() == {"chapter": 2, "seconds": 73.3}
    assert client.get(url("book-position", book)).json() == {"chapter": 2, "seconds": 73.3}
    assert client.get(url("book-position", other)).json() == {}
    another_browser = signed_in(owner)
    assert another_browser.get(url("book-position", book)).json()["chapter"] == 2
    # The very place the apps read through the API.
    progress = ListeningProgress.objects.get(book=book)
    assert (progress.chapter, progress.position_ms) == (2, 73260)
    del stranger  # their requests are a 404 (see the parametrized test above)


@pytest.mark.parametrize(
    "data",
    [
        {"chapter": "0", "seconds": "1"},
        {"chapter": "9", "seconds": "1"},
        {"chapter": "1", "seconds": "-3"},
        {"chapter": "1", "seconds": "nan"},
        {"chapter": "one", "seconds": "1"},
        {},
        # Odd input: each was a 500 before it was parsed with bounds.
        {"chapter": "1", "seconds": "1e20"},
        {"chapter": "1", "seconds": "inf"},
        {"chapter": "1", "seconds": "1e308"},
        {"chapter": "99999999999999999999999", "seconds": "1"},
        {"chapter": "\u00b2", "seconds": "1"},
        {"chapter": "\u0663", "seconds": "1"},  # an Arabic-Indic 3: int() reads it, we do not
        {"chapter": "1", "seconds": "\u0661"},
    ],
)
def test_a_position_that_makes_no_sense_is_refused(owner, tmp_path, data):
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-position", book), data)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_position"


@pytest.mark.parametrize("chapter", ["\u00b2", "99999999999999999999999", "-1", "1e3", "\u0661"])
def test_a_quote_for_an_odd_chapter_number_names_no_chapter_and_is_no_error(owner, tmp_path, chapter):
    book = ready_book(owner, tmp_path)
    client = signed_in(owner)
    response = client.get(url("book-quote", book), {"chapter": chapter, "voice": DEFAULT_VOICE})
    assert response.status_code == 200
    assert response.json()["characters"] == 0


@pytest.mark.parametrize("chapter", ["\u00b2", "99999999999999999999999"])
def test_convert_with_an_odd_chapter_number_is_refused_on_the_page(owner, tmp_path, chapter):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, chapter=[chapter]))
    assert response.status_code == 400
    assert "Choose at least one chapter to convert." in html(response)
    assert not Conversion.objects.filter(book=book).exists()


def test_convert_with_a_nul_in_its_idempotency_key_is_refused_not_a_500(owner, tmp_path):
    # A browser sends this form urlencoded (refused by ebookvoice.inputs); multipart reaches the view.
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, idempotency_key="a\x00b"))
    assert response.status_code == 400
    assert "control characters" in html(response)
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("speed", ["1e308", "nan", "-inf", "\u0661"])
def test_convert_at_an_odd_speed_is_refused_on_the_page(owner, tmp_path, speed):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = ready_book(owner, tmp_path)
    response = signed_in(owner).post(url("book-convert", book), convert_form(book, speed=speed))
    assert response.status_code == 400
    assert "Speed must be a number between" in html(response)
    assert not Conversion.objects.filter(book=book).exists()


def test_the_book_page_starts_the_player_where_the_reader_left_off(owner, tmp_path):
    book, conversion = converting_book(owner, tmp_path)
    finish_chapter(owner, book, conversion, 1)
    client = signed_in(owner)
    client.post(url("book-position", book), {"chapter": "1", "seconds": "42"})
    page = client.get(url("book-detail", book))
    assert json.loads(page.context["position"] and json.dumps(page.context["position"])) == {
        "chapter": 1,
        "seconds": 42.0,
    }
    assert '<script id="player-position" type="application/json">' in html(page)


# --- Credits --------------------------------------------------------------------------------


def test_the_credits_page_shows_the_balance_and_each_entry_with_its_book(owner, stranger, tmp_path):
    book, _conversion = converting_book(owner, tmp_path)
    credits_grant_by_system(user=stranger, hundredths=700, reason="stranger's grant")
    page = signed_in(owner).get(reverse("audiobooks:credits"))
    assert page.status_code == 200
    text = html(page)
    charged = _conversion.charge_hundredths
    balance = 300 - charged
    audio = prices.amount(balance).audio
    assert f"<strong>{format_credits(balance)}</strong><span>credits available, about {audio}" in text
    assert f"−{format_credits(charged)}</td>" in text, "the charge, to the hundredth"
    assert "Charge" in text
    assert url("book-detail", book) in text
    assert "Staff grant" in text or "test" in text
    assert "stranger&#x27;s grant" not in text
    assert "stranger's grant" not in text


# --- The email a finished conversion sends ---------------------------------------------------


def test_the_ready_email_links_the_book_page_and_the_switch_that_stops_it(owner, tmp_path, mailoutbox):
    from django.conf import settings
    from django.utils import timezone

    from audiobooks.delivery.email import conversion_finished_email_send

    book, conversion = converting_book(owner, tmp_path)
    Conversion.objects.filter(pk=conversion.pk).update(
        status=Conversion.Status.COMPLETED, duration_ms=120_000,
        started_at=timezone.now(), finished_at=timezone.now(),
    )  # fmt: skip
    assert conversion_finished_email_send(conversion_id=conversion.pk)
    body = mailoutbox[-1].body
    assert settings.SITE_URL + url("book-detail", book) in body
    assert settings.SITE_URL + reverse("account_settings") in body
    client = signed_in(owner)
    assert client.get(url("book-detail", book)).status_code == 200
    client.post(reverse("account_settings"), {})  # the switch, unticked
    assert not conversion_finished_email_send(conversion_id=conversion.pk)
    assert len(mailoutbox) == 1


def test_the_library_makes_as_many_queries_for_five_books_as_for_one(owner, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(owner)
    ready_book(owner, tmp_path)
    client.get(reverse("audiobooks:library"))  # the first request also loads the session
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("audiobooks:library"))
    for number in range(4):
        (tmp_path / str(number)).mkdir()
        ready_book(owner, tmp_path / str(number))
    with CaptureQueriesContext(connection) as five:
        page = client.get(reverse("audiobooks:library"))
    assert len(page.context["cards"]) == 5
    assert len(five) == len(one)


def test_the_library_card_of_a_converting_book_shows_its_progress_and_chapters_ready(owner, tmp_path):
    book, conversion = converting_book(owner, tmp_path)
    finish_chapter(owner, book, conversion, 1)
    page = signed_in(owner).get(reverse("audiobooks:library"))
    (card,) = page.context["cards"]
    assert card.state == "queued"
    assert card.active
    text = html(page)
    assert 'role="progressbar"' in text
    assert "1 of 3 chapters ready" in text
    assert 'data-polling="true"' in text
