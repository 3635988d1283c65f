"""The lexicon's pages: the reader's own and a book's (its problem words), each refusal with its status."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audiobooks import errors
from audiobooks.lexicon.checks import EntryInput
from audiobooks.lexicon.problem_words import english_words, problem_words
from audiobooks.lexicon.services import lexicon_entry_create
from audiobooks.lexicon.voicing import word_preview
from audiobooks.models import Book, LexiconEntry
from audiobooks.tests.factories import ingest_now, upload_file

pytestmark = pytest.mark.django_db

MOBY = (
    "Call me Ishmael. Queequeg was a native of Rokovoko. Queequeg and Captain Ahab never spoke.\n\n"
    "Queequeg's harpoon hung by the door. Ahab paced the deck of the Pequod. London was far away.\n\n"
    "CHAPTER XIV. The whale rose."
)


@pytest.fixture
def book(owner, tmp_path) -> Book:
    path = tmp_path / "moby.txt"
    path.write_text(MOBY, encoding="utf-8")
    book = upload_file(owner, path)
    book = ingest_now(book)
    assert book.status == Book.Status.READY, book.error_message
    return book


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def state() -> list[tuple[object, ...]]:
    return list(LexiconEntry.objects.order_by("id").values_list("text", "respelling", "phonemes", "book_id"))


def test_problem_words_are_capitalised_words_not_in_the_vendored_list_most_frequent_first():
    assert "london" in english_words()
    assert "queequeg" not in english_words()
    assert problem_words([MOBY]) == [
        ("Queequeg", 3),
        ("Ahab", 2),
        ("Ishmael", 1),
        ("Pequod", 1),
        ("Rokovoko", 1),
    ]


def test_the_book_page_lists_its_problem_words_with_their_current_fix(browser, owner, book):
    lexicon_entry_create(user=owner, book_uuid=None, entry=EntryInput("Ahab", respelling="Ay-hab"))
    page = browser.get(f"/books/{book.uuid}/lexicon")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("<strong>Queequeg</strong>") < html.index("<strong>Ahab</strong>")
    assert 'value="Ay-hab"' in html
    assert f'formaction="/books/{book.uuid}/lexicon/listen"' in html
    assert "<strong>London</strong>" not in html
    assert f"/books/{book.uuid}/lexicon" in browser.get(f"/books/{book.uuid}/convert").content.decode()


def test_a_fix_saved_on_the_book_page_is_for_that_book_and_saving_again_replaces_it(browser, owner, book):
    url = f"/books/{book.uuid}/lexicon"
    answer = browser.post(
        url, {"action": "save", "text": "Queequeg", "respelling": "Kwee-kweg", "whole_word": "1"}
    )
    assert answer.status_code == 302
    browser.post(url, {"action": "save", "text": "Queequeg", "phonemes": "/kwˈiːkwiːɡ/", "whole_word": "1"})
    assert state() == [("Queequeg", "", "kwˈiːkwiːɡ", book.pk)]
    entry = LexiconEntry.objects.get()
    assert browser.post(url, {"action": "delete", "entry": str(entry.uuid)}).status_code == 302
    assert state() == []


def test_the_readers_own_page_adds_exports_and_imports(browser, owner):
    assert (
        browser.post("/lexicon/", {"action": "save", "text": "Ahab", "respelling": "Ay-hab"}).status_code
        == 302
    )
    page = browser.get("/lexicon/")
    assert "Ay-hab" in page.content.decode()
    assert "/lexicon/" in browser.get("/accounts/settings/").content.decode()
    csv = browser.get("/lexicon/export.csv")
    assert csv["Content-Type"] == "text/csv"
    pls = browser.get("/lexicon/export.pls")
    assert b"<grapheme>Ahab</grapheme>" in pls.content
    LexiconEntry.objects.all().delete()
    answer = browser.post("/lexicon/", {"action": "import", "file": SimpleUploadedFile("x.pls", pls.content)})
    assert answer.status_code == 302
    assert state() == [("Ahab", "Ay-hab", "", None)]


PLS_WITH_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE lexicon [<!ENTITY s SYSTEM "file:///etc/passwd">]>'
    b'<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon">'
    b"<lexeme><grapheme>&s;</grapheme><alias>x</alias></lexeme></lexicon>"
)


@pytest.mark.parametrize(
    ("form", "refusal"),
    [
        ({"action": "save", "text": "", "respelling": "x"}, (400, "at least one letter")),
        ({"action": "save", "text": "Queequeg"}, (400, "give a respelling or phonemes")),
        ({"action": "save", "text": "Queequeg", "respelling": "k" * 201}, (400, "at most 200")),
        ({"action": "save", "text": "Queequeg", "phonemes": "KWIK"}, (400, "is not an IPA symbol")),
        ({"action": "save", "text": "Queequeg", "phonemes": "ʗiː"}, (400, "cannot say")),
        ({"action": "delete", "entry": "not-a-uuid"}, (400, "Choose an entry")),
        ({"action": "import"}, (400, "Choose a PLS or CSV file")),
        ({"action": "import", "file": ("x.pls", PLS_WITH_ENTITY)}, (400, "DTD or entities")),
        (
            {
                "action": "import",
                "file": ("x.csv", b"text,respelling\n" + b"A,b\n" * 100_000),
            },
            (413, "at most"),
        ),
        ({"action": "dance"}, (400, "asks for nothing")),
    ],
)
@pytest.mark.parametrize("where", ["reader", "book"])
def test_every_refusal_is_the_page_again_with_its_status_and_nothing_changed(
    browser, book, form, refusal, where
):
    status, message = refusal
    lexicon_entry_create(user=book.owner, book_uuid=None, entry=EntryInput("Ahab", respelling="Ay-hab"))
    before = state()
    url = "/lexicon/" if where == "reader" else f"/books/{book.uuid}/lexicon"
    if "file" in form:  # a fresh upload each time: one is read to its end
        form = {**form, "file": SimpleUploadedFile(*form["file"])}
    answer = browser.post(url, form)
    assert answer.status_code == status
    assert message in answer.content.decode()
    assert 'id="lexicon-error"' in answer.content.decode()
    assert state() == before


def test_another_readers_book_page_is_not_found(book, stranger):
    client = Client()
    client.force_login(stranger)
    assert client.get(f"/books/{book.uuid}/lexicon").status_code == 404
    assert client.post(f"/books/{book.uuid}/lexicon/listen", {"text": "Queequeg"}).status_code == 404
    assert (
        client.post(
            f"/books/{book.uuid}/lexicon", {"action": "save", "text": "a", "respelling": "b"}
        ).status_code
        == 404
    )
    assert not LexiconEntry.objects.exists()


def test_listen_says_the_word_with_the_saved_fix_or_the_one_typed(owner, book):
    lexicon_entry_create(
        user=owner, book_uuid=book.uuid, entry=EntryInput("Queequeg", respelling="Kwee-kweg")
    )
    saved = word_preview(book=book, text="Queequeg")
    assert [(entry.say, entry.phonemes) for entry in saved.lexicon] == [("Kwee-kweg", False)]
    typed = word_preview(book=book, text="Queequeg", phonemes="kwˈiːkwiːɡ")
    assert [(entry.say, entry.phonemes) for entry in typed.lexicon] == [("kwˈiːkwiːɡ", True)]
    assert word_preview(book=book, text="Ishmael").lexicon == ()
    with pytest.raises(errors.InvalidIpa):
        word_preview(book=book, text="Queequeg", phonemes="K")
