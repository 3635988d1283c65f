from __future__ import annotations

import random
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tts_engine.chunking import split_chunks, split_paragraphs, split_sentences

WORDS = re.compile(r"\S+")


def _random_sentence(rng: random.Random, words: int) -> str:
    vocabulary = [
        "a",
        "cat",
        "sat",
        "extraordinarily",
        "on",
        "the",
        "mat,",
        "quietly;",
        "and",
        "then:",
        "slept",
    ]
    return " ".join(rng.choice(vocabulary) for _ in range(words)) + "."


@pytest.mark.parametrize("limit", [20, 57, 120, 400])
def test_chunks_respect_the_limit_and_never_split_a_word(limit):
    rng = random.Random(limit)  # noqa: S311 - seeded test data, not secrets
    for _ in range(50):
        sentence = _random_sentence(rng, rng.randint(1, 120))
        chunks = split_chunks(sentence, limit)
        assert all(0 < len(chunk) <= limit for chunk in chunks)
        # Joining the chunks gives back exactly the sentence's words.
        assert [w for chunk in chunks for w in WORDS.findall(chunk)] == WORDS.findall(sentence)


def test_a_short_sentence_is_one_chunk():
    assert split_chunks("  Hello,   world.  ", 400) == ["Hello, world."]


def test_a_long_sentence_is_cut_after_a_clause_mark_rather_than_anywhere():
    sentence = "The rain fell on the roofs of the old town, and the people stayed indoors all day long."
    assert split_chunks(sentence, 60) == [
        "The rain fell on the roofs of the old town,",
        "and the people stayed indoors all day long.",
    ]


def test_a_clause_mark_too_early_in_the_window_is_not_used():
    sentence = "Yes, the rain fell on the roofs of the old town and the people stayed indoors."
    first = split_chunks(sentence, 50)[0]
    assert first != "Yes,"
    assert len(first) > 25


def test_only_a_word_longer_than_the_limit_is_cut_inside():
    assert split_chunks("a " + "x" * 25 + " b", 10) == ["a", "x" * 10, "x" * 10, "x" * 5 + " b"]


def test_paragraphs_are_separated_by_blank_lines_and_lines_are_joined():
    text = "First line\nstill first.\n\n  \nSecond.\r\n\r\nThird."
    assert split_paragraphs(text) == ["First line still first.", "Second.", "Third."]


def test_sentences_are_split_without_breaking_at_abbreviations():
    paragraph = 'Mr. Smith arrived at 10 a.m. on Jan. 5! Did he stay? "Yes," she said.'
    assert split_sentences(paragraph, "en") == [
        "Mr. Smith arrived at 10 a.m. on Jan. 5!",
        "Did he stay?",
        '"Yes," she said.',
    ]


def test_an_unsupported_language_falls_back_to_the_english_splitter():
    assert split_sentences("Uno. Dos.", "xx") == ["Uno.", "Dos."]


def test_sentences_split_in_many_threads_at_once_are_the_sentences_split_alone():
    # Submissions cut chapters into Parts in the web server's threads; a
    # segmenter shared between threads mixed up their texts and lost sentences.
    paragraphs = [
        " ".join(f"Sentence {n} of paragraph {p} ends here, Mr. Holmes said." for n in range(60))
        for p in range(16)
    ]
    alone = [split_sentences(paragraph) for paragraph in paragraphs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(split_sentences, paragraphs)) == alone
