"""The lexicon API: entries for all your books or one, every refusal with its code, PLS and CSV files."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from audiobooks.lexicon import formats
from audiobooks.lexicon.services import MAX_ENTRIES_PER_USER
from audiobooks.models import LexiconEntry
from tests.apiclient import assert_error, person_with_app, ready_book

pytestmark = pytest.mark.django_db

IPA = "kwˈiːkwiːɡ"


@pytest.fixture
def reader(tmp_path):
    user, api = person_with_app("reader@example.com")
    return user, api, ready_book(user, tmp_path)


def import_file(api, name: str, data: bytes, **fields: Any):
    return api.http.post(
        "/api/v1/lexicon/import",
        {"file": SimpleUploadedFile(name, data), **fields},
        headers={"X-Session-Token": api.token},
    )


def state() -> list[tuple[Any, ...]]:
    return list(LexiconEntry.objects.order_by("id").values_list("text", "respelling", "phonemes", "book_id"))


def test_an_entry_is_made_read_replaced_and_deleted(reader):
    _, api, book = reader
    made = api.post("/api/v1/lexicon", {"text": "Queequeg", "respelling": "Kwee-kweg", "note": "harpooner"})
    assert made.status_code == 201, made.content
    entry = made.json()
    assert entry["book"] is None
    assert (entry["text"], entry["respelling"], entry["case_sensitive"], entry["whole_word"]) == (
        "Queequeg",
        "Kwee-kweg",
        False,
        True,
    )
    assert api.get(f"/api/v1/lexicon/{entry['id']}").json() == entry
    assert [e["id"] for e in api.get("/api/v1/lexicon").json()["results"]] == [entry["id"]]

    replaced = api.put(f"/api/v1/lexicon/{entry['id']}", {"text": "Queequeg", "phonemes": f"/{IPA}/"})
    assert replaced.status_code == 200, replaced.content
    assert (replaced.json()["respelling"], replaced.json()["phonemes"]) == ("", IPA)

    own = api.post("/api/v1/lexicon", {"text": "Ahab", "respelling": "Ay-hab", "book": str(book.uuid)})
    assert own.json()["book"] == str(book.uuid)
    assert [e["text"] for e in api.get("/api/v1/lexicon", {"book": str(book.uuid)}).json()["results"]] == [
        "Ahab"
    ]
    assert api.delete(f"/api/v1/lexicon/{entry['id']}").status_code == 204
    assert api.get(f"/api/v1/lexicon/{entry['id']}").status_code == 404
    assert state() == [("Ahab", "Ay-hab", "", book.pk)]


def test_another_readers_entries_and_books_are_not_found(reader):
    _, api, book = reader
    entry = api.post("/api/v1/lexicon", {"text": "Queequeg", "respelling": "Kwee-kweg"}).json()
    _, stranger = person_with_app("stranger@example.com")
    assert_error(stranger.get(f"/api/v1/lexicon/{entry['id']}"), 404, "not_found")
    assert_error(
        stranger.put(f"/api/v1/lexicon/{entry['id']}", {"text": "x", "respelling": "y"}), 404, "not_found"
    )
    assert_error(stranger.delete(f"/api/v1/lexicon/{entry['id']}"), 404, "not_found")
    assert_error(
        stranger.post("/api/v1/lexicon", {"text": "Ahab", "respelling": "a", "book": str(book.uuid)}),
        404,
        "not_found",
    )
    assert stranger.get("/api/v1/lexicon").json()["results"] == []
    assert_error(stranger.get("/api/v1/lexicon", {"book": str(book.uuid)}), 404, "not_found")
    assert state() == [("Queequeg", "Kwee-kweg", "", None)]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"text": "", "respelling": "x"}, "empty_lexicon_entry", "at least one letter"),
        ({"text": "...", "respelling": "x"}, "empty_lexicon_entry", "at least one letter"),
        ({"text": "Queequeg"}, "empty_lexicon_entry", "give a respelling or phonemes"),
        ({"text": "Queequeg", "respelling": "  "}, "empty_lexicon_entry", "give a respelling or phonemes"),
        ({"text": "Q" * 101, "respelling": "x"}, "lexicon_entry_too_long", "at most 100"),
        ({"text": "Queequeg", "respelling": "k" * 201}, "lexicon_entry_too_long", "at most 200"),
        ({"text": "Queequeg", "phonemes": "KWIKWEG"}, "invalid_ipa", "“K” is not an IPA symbol"),
        ({"text": "Queequeg", "phonemes": "ˈː"}, "invalid_ipa", "at least one sound"),
        ({"text": "Queequeg", "phonemes": "ʗiːkwɛɡ"}, "phonemes_not_in_voice", "cannot say “ʗ”"),
        ({"text": "Queequeg", "respelling": "x", "note": "n" * 501}, "lexicon_entry_too_long", "note"),
        ({"text": "Queequeg", "respelling": "x", "colour": "red"}, "invalid", "colour"),
    ],
)
def test_a_bad_entry_is_a_400_with_its_own_code_and_changes_nothing(reader, body, code, message):
    _, api, _ = reader
    api.post("/api/v1/lexicon", {"text": "Ahab", "respelling": "Ay-hab"})
    before = state()
    assert_error(api.post("/api/v1/lexicon", body), 400, code, message)
    entry = LexiconEntry.objects.get()
    assert_error(api.put(f"/api/v1/lexicon/{entry.uuid}", body), 400, code, message)
    assert state() == before


def test_the_same_word_twice_is_a_409(reader):
    _, api, _ = reader
    api.post("/api/v1/lexicon", {"text": "Queequeg", "respelling": "a"})
    assert_error(
        api.post("/api/v1/lexicon", {"text": "queequeg", "respelling": "b"}), 409, "lexicon_entry_exists"
    )
    assert state() == [("Queequeg", "a", "", None)]


def test_entries_go_out_and_back_in_as_pls_and_as_csv(reader):
    user, api, book = reader
    api.post("/api/v1/lexicon", {"text": "Queequeg", "respelling": "Kwee-kweg", "phonemes": IPA, "note": "n"})
    api.post("/api/v1/lexicon", {"text": "Ahab", "respelling": "Ay-hab", "case_sensitive": True})
    pls = api.get("/api/v1/lexicon/export.pls")
    assert pls.status_code == 200
    assert pls["Content-Type"] == "application/pls+xml"
    assert b'xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"' in pls.content
    assert f"<phoneme>{IPA}</phoneme>".encode() in pls.content
    csv = api.get("/api/v1/lexicon/export.csv")
    assert csv["Content-Type"] == "text/csv"
    assert csv.content.decode().splitlines()[0] == ",".join(formats.CSV_COLUMNS)
    everything = state()

    LexiconEntry.objects.all().delete()
    answer = import_file(api, "moby.pls", pls.content)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"created": 2, "updated": 0}
    assert sorted(state()) == sorted(everything)
    assert LexiconEntry.objects.get(text="Ahab").case_sensitive
    assert LexiconEntry.objects.get(text="Queequeg").note == "n"

    # Again, as CSV into the book's own lexicon: new there; and again: updated, nothing added.
    assert import_file(api, "moby.csv", csv.content, book=str(book.uuid)).json() == {
        "created": 2,
        "updated": 0,
    }
    assert import_file(api, "moby.csv", csv.content, book=str(book.uuid)).json() == {
        "created": 0,
        "updated": 2,
    }
    assert LexiconEntry.objects.filter(owner=user, book=book).count() == 2


PLS_WITH_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en">
  <lexeme><grapheme>Queequeg</grapheme><alias>&secret;</alias></lexeme>
</lexicon>"""
PLS_WITH_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon SYSTEM "http://example.com/pls.dtd">
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en">
  <lexeme><grapheme>Queequeg</grapheme><alias>Kwee-kweg</alias></lexeme>
</lexicon>"""
PLS_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"><lexeme>
<grapheme>&b;</grapheme><alias>x</alias></lexeme></lexicon>"""


def _pls(*lexemes: str, alphabet: str = "ipa") -> bytes:
    return (
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
        f'alphabet="{alphabet}">' + "".join(lexemes) + "</lexicon>"
    ).encode()


@pytest.mark.parametrize(
    ("name", "data", "refusal", "message"),
    [
        ("x.pls", PLS_WITH_ENTITY, (400, "lexicon_file_refused"), "DTD or entities"),
        ("x.pls", PLS_WITH_DTD, (400, "lexicon_file_refused"), "DTD or entities"),
        ("x.pls", PLS_BOMB, (400, "lexicon_file_refused"), "DTD or entities"),
        ("x.pls", b"<lexicon", (400, "lexicon_file_refused"), "not well-formed XML"),
        ("x.pls", b"<svg xmlns='http://www.w3.org/2000/svg'/>", (400, "lexicon_file_refused"), "<lexicon>"),
        (
            "x.pls",
            _pls("<lexeme><grapheme>a</grapheme><phoneme>a</phoneme></lexeme>", alphabet="x-sampa"),
            (400, "lexicon_file_refused"),
            "Only IPA",
        ),
        (
            "x.pls",
            _pls("<lexeme><grapheme>Pip</grapheme><phoneme>P1P</phoneme></lexeme>"),
            (400, "invalid_ipa"),
            "Entry 1",
        ),
        (
            "x.pls",
            _pls("<lexeme><grapheme>Pip</grapheme><phoneme>ʗɪp</phoneme></lexeme>"),
            (400, "phonemes_not_in_voice"),
            "Entry 1",
        ),
        ("x.csv", b"text,respelling\nQueequeg,Kwee-kweg\n,x\n", (400, "empty_lexicon_entry"), "Entry 2"),
        ("x.csv", b"text,respelling\nQueequeg," + b"k" * 201 + b"\n", (400, "lexicon_entry_too_long"), "200"),
        ("x.csv", b"Queequeg,Kwee-kweg\n", (400, "lexicon_file_refused"), "header row"),
        ("x.csv", b"text,respelling\nQueequeg,a,b\n", (400, "lexicon_file_refused"), "more cells"),
        (
            "x.csv",
            b"text,whole_word,respelling\nQueequeg,maybe,a\n",
            (400, "lexicon_file_refused"),
            "true or false",
        ),
        (
            "x.csv",
            "text,respelling\nQueequeg,Kwee\n".encode("utf-16"),
            (400, "lexicon_file_refused"),
            "UTF-8",
        ),
        ("x.csv", b"text,respelling\n" + b"Name,x\n" * 100_000, (413, "lexicon_full"), "at most"),
    ],
)
def test_a_bad_file_is_refused_with_its_own_code_and_changes_nothing(reader, name, data, refusal, message):
    _, api, _ = reader
    api.post("/api/v1/lexicon", {"text": "Ahab", "respelling": "Ay-hab"})
    before = state()
    status, code = refusal
    assert_error(import_file(api, name, data), status, code, message)
    assert state() == before


def test_a_csv_of_more_entries_than_a_lexicon_holds_is_refused_whole(reader):
    _, api, _ = reader
    rows = "".join(f"Name{i},x\n" for i in range(MAX_ENTRIES_PER_USER + 1)).encode()
    assert len(rows) < formats.MAX_FILE_BYTES  # refused for its entries, not its size
    assert_error(import_file(api, "big.csv", b"text,respelling\n" + rows), 413, "lexicon_full", "5,000")
    assert not LexiconEntry.objects.exists()


def test_the_list_takes_as_many_queries_for_four_entries_as_for_two(reader):
    from tests.test_query_counts import queries

    _, api, book = reader
    counts = []
    for first in (0, 2):
        for number in (first, first + 1):
            api.post("/api/v1/lexicon", {"text": f"Name{number}", "respelling": "x", "book": str(book.uuid)})
        counts.append(queries(api.get, f"/api/v1/lexicon?book={book.uuid}"))
    assert counts == [5, 5]  # the session, the user, the book, the count, the page
