"""Every chapter opens as a narrator would read it, in real books and in a converted one.

The audit renders no audio: it reads each book of the test corpus through
ingestion, cuts every chapter into Parts with the Part builder and plans their
speech (the normaliser included) exactly as a synthesis worker would, then
looks at what would reach the engine. The last test converts a small book on
real workers and reads its captions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from accounts.models import User
from audiobooks.audio.testing import parse_vtt
from audiobooks.ingest import ingest_file
from audiobooks.models import Book, Conversion
from audiobooks.pipeline.parts import chapter_parts
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.keys import deliverable_ids
from audiobooks.tests.factories import ingest_now, upload_file, wait_until_finished
from audiobooks.tests.ingest_fixtures import STORY_SENTENCES, EpubSpec, nav_list, xhtml
from credits.services import credits_grant_by_system
from ebookvoice.paths import corpus_dir
from tts_engine.engines.piper import PiperEngine
from tts_engine.registry import DEFAULT_VOICE
from tts_engine.speech import Utterance, plan_speech
from tts_engine.text import heading_words
from tts_engine.text.common import roman_value

OPENING_CHARS = 300
CORPUS_BOOKS = sorted([*(corpus_dir() / "good").glob("*.epub"), *(corpus_dir() / "tolerated").glob("*.epub")])


@functools.cache
def spoken_chapters(path: Path) -> list[tuple[str, list[Utterance]]]:
    """Each chapter's title and the speech planned for all its Parts, as the workers plan it."""
    book = ingest_file(path)
    chapters = []
    for chapter in book.chapters:
        plan: list[Utterance] = []
        for part in chapter_parts(text=chapter.text, language=book.language):
            plan += plan_speech(
                part.text,
                language=book.language,
                max_chars=PiperEngine.max_chunk_chars,
                title=chapter.title if part.speaks_title else None,
                ends_paragraph=part.ends_paragraph,
            )
        chapters.append((chapter.title, plan))
    return chapters


def times_title_said(title: str, said: Sequence[str], *, within: int = OPENING_CHARS) -> int:
    """How many sentences and headings in the first ``within`` characters of ``said`` start with the title.

    A title said again starts a heading (or a run of them: "Chapter 1." then
    "Loomings."); the title's word inside a sentence ("this Uncopyright
    page") is no second announcement.
    """
    title_words = heading_words(title)
    utterances = [tuple(re.findall(r"[^\W_]+", text.lower().replace("'", ""))) for text in said]
    count, offset = 0, 0
    for index, text in enumerate(said):
        if offset >= within:
            break
        following = tuple(word for words in utterances[index:] for word in words)
        count += bool(title_words) and following[: len(title_words)] == title_words
        offset += len(text) + 1
    return count


def unconverted_numerals(chunks: Sequence[str]) -> list[str]:
    """Chunks that give the engine a Roman numeral: one alone ("I", "II."), or "XLII" among words."""

    def numeral(word: str) -> bool:
        return word.isupper() and roman_value(word) is not None

    def among_words(chunk: str) -> bool:
        words = (word.strip(".,;:!?'") for word in chunk.split())
        return any(len(word) > 1 and set(word) <= set("IVXL") and numeral(word) for word in words)

    return [chunk for chunk in chunks if numeral(chunk.strip(" .:,;")) or among_words(chunk)]


def test_the_audit_catches_what_listeners_heard_before():
    # The captions: the title twice, then "I" as the pronoun.
    before = [
        "A Scandal in Bohemia",
        "A Scandal in Bohemia",
        "I",
        "To Sherlock Holmes she is always the woman.",
    ]
    assert times_title_said("A Scandal in Bohemia", before) == 2
    assert (
        times_title_said("Chapter 1. Loomings.", ["Chapter one. Loomings.", "Chapter one.", "Loomings."]) == 2
    )
    assert times_title_said("Uncopyright", ["Uncopyright", "Unlike them, this Uncopyright page exists."]) == 1
    assert unconverted_numerals(["A Scandal in Bohemia", "I", "To Sherlock Holmes."]) == ["I"]
    assert unconverted_numerals(["II", "Then came Henry VIII."]) == ["II", "Then came Henry VIII."]
    assert unconverted_numerals(["I had called upon my friend.", "one", "Chapter forty-two"]) == []


def test_the_corpus_holds_the_books_the_audit_must_read():
    names = {path.name for path in CORPUS_BOOKS}
    assert "sherlock-holmes.epub" in names
    assert len(names) > 5


@pytest.mark.parametrize("path", CORPUS_BOOKS, ids=lambda path: path.name)
def test_every_chapter_of_the_corpus_says_its_title_once_and_no_roman_numeral_reaches_the_engine(path):
    assert spoken_chapters(path)
    for title, plan in spoken_chapters(path):
        said = [" ".join(utterance.chunks) for utterance in plan]
        assert times_title_said(title, said) == 1, f"{title!r} opens: {said[:4]!r}"
        assert unconverted_numerals([chunk for utterance in plan for chunk in utterance.chunks]) == [], title


def test_sherlock_holmes_opens_a_scandal_in_bohemia_as_a_narrator_would():
    plans = dict(spoken_chapters(corpus_dir() / "good" / "sherlock-holmes.epub"))
    opening = plans["A Scandal in Bohemia"][:3]
    assert [(u.text, u.chunks, u.pause_ms) for u in opening] == [
        ("A Scandal in Bohemia", ("A Scandal in Bohemia",), 1500),
        ("One", ("one",), 1000),
        (
            "To Sherlock Holmes she is always the woman.",
            ("To Sherlock Holmes she is always the woman.",),
            300,
        ),
    ]
    sections = [u.text for u in plans["A Scandal in Bohemia"] if u.pause_ms == 1000]
    assert sections == ["One", "Two", "Three"]


@pytest.mark.django_db
def test_a_chapters_title_changes_the_render_key_of_its_first_part_only(owner):
    # The title meets the text only in the first Part's speech: the Part cut
    # and every later Part's render key are the same whatever the title.
    book = upload_file(owner, corpus_dir() / "good" / "sherlock-holmes.epub")
    book = ingest_now(book)
    chapters = [2, 3]  # two stories, a dozen Parts each

    def keys() -> dict[tuple[int, int], tuple[str, str]]:
        conversion = conversion_submit(
            user=owner, book_uuid=book.uuid, chapter_indexes=chapters, voice_key=DEFAULT_VOICE, speed=1.0,
            operator_job=True,
        )  # fmt: skip
        return {
            (part.chapter.index, part.chapter_part_index): (part.text, part.cache_key)
            for part in conversion.parts.select_related("chapter")
        }

    before = keys()
    book.chapters.filter(index__in=chapters).update(title="Another Title")
    after = keys()
    assert before.keys() == after.keys()
    assert all(before[part][0] == after[part][0] for part in before)  # the same cut
    changed = {part for part in before if before[part][1] != after[part][1]}
    assert changed == {(index, 0) for index in chapters}
    assert len(before) > 2 * len(chapters)


SECTIONED = (
    # (table of contents, the chapter's own markup)
    ("A Scandal in Bohemia", "<h1>A Scandal in Bohemia</h1><h2>I</h2><p>{0}</p><h2>II</h2><p>{1}</p>"),
    ("Chapter 2", "<h1>CHAPTER II</h1><p>{0}</p><p>{1}</p>"),
    ("Chapter 3. The Storm", "<h1>Chapter 3</h1><h2>The Storm</h2><p>{0}</p>"),
)
ANNOUNCED = ("A Scandal in Bohemia", "Chapter two", "Chapter three. The Storm")


def sectioned_book(owner: User, directory: Path) -> Book:
    prose = [" ".join(STORY_SENTENCES[i : i + 2]) for i in (0, 2)]
    documents = [
        (f"c{n}.xhtml", xhtml(markup.format(*prose), title=title))
        for n, (title, markup) in enumerate(SECTIONED)
    ]
    nav = nav_list([(title, f"c{n}.xhtml") for n, (title, _) in enumerate(SECTIONED)])
    directory.mkdir(parents=True, exist_ok=True)
    book = upload_file(owner, EpubSpec(documents=documents, nav=nav, title="Openings").write(directory))
    book = ingest_now(book)
    assert book.status == Book.Status.READY, book.error_message
    return book


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_converted_books_captions_show_each_title_once_and_section_numbers_as_words(
    owner, tmp_path, celery_worker
):
    credits_grant_by_system(user=owner, hundredths=300, reason="test")
    book = sectioned_book(owner, tmp_path)
    conversion = conversion_submit(
        user=owner, book_uuid=book.uuid, chapter_indexes=[0, 1, 2], voice_key=DEFAULT_VOICE, speed=1.0
    )
    conversion = wait_until_finished(conversion)
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message

    captions = []
    for number, announced in enumerate(ANNOUNCED, start=1):
        vtt = tmp_path / f"{number}.vtt"
        backend.object_download(storage_keys.captions_key(**deliverable_ids(conversion), number=number), vtt)
        cues = [" ".join(cue.text.split()) for cue in parse_vtt(vtt.read_text())]
        assert cues[0] == announced
        assert times_title_said(announced, cues) == 1
        assert not {"I", "II", "III"} & set(cues)
        captions.append(cues)
    assert captions[0][:3] == ["A Scandal in Bohemia", "One", STORY_SENTENCES[0]]
    assert "Two" in captions[0]
