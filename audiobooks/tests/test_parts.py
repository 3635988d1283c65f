from __future__ import annotations

import re

import pytest

from audiobooks.ingest import ingest_file
from audiobooks.pipeline.parts import PART_MAX_CHARS, chapter_parts, chapter_parts_keeping
from audiobooks.tests.factories import CORPUS

_SPACE = re.compile(r"\s+")


def _letters(text: str) -> str:
    return _SPACE.sub("", text)


def _chapter(paragraphs: int, sentences: int) -> str:
    return "\n\n".join(
        " ".join(
            f"Paragraph {p}, sentence {s}: the hound was heard again on the moor." for s in range(sentences)
        )
        for p in range(paragraphs)
    )


def test_a_short_chapter_is_one_part_that_speaks_the_title_and_ends_a_paragraph():
    parts = chapter_parts(text="It was a dark night.\n\nThe wind howled.")
    assert len(parts) == 1
    assert parts[0].text == "It was a dark night.\n\nThe wind howled."
    assert parts[0].speaks_title
    assert parts[0].ends_paragraph


def test_a_long_chapter_is_cut_into_parts_none_over_the_limit_and_only_the_first_speaks_the_title():
    text = _chapter(paragraphs=60, sentences=12)
    parts = chapter_parts(text=text)
    assert len(parts) > 5
    assert all(len(part.text) <= PART_MAX_CHARS for part in parts)
    assert [part.speaks_title for part in parts] == [True] + [False] * (len(parts) - 1)


def test_the_parts_together_hold_every_character_of_the_chapter_in_order():
    text = _chapter(paragraphs=40, sentences=15) + "\n\n* * *\n\nThe   end,\n  at last."
    parts = chapter_parts(text=text)
    assert _letters("".join(part.text for part in parts)) == _letters(text)


def test_parts_are_cut_between_sentences_never_inside_one():
    text = _chapter(paragraphs=30, sentences=15)
    for part in chapter_parts(text=text):
        assert part.text.startswith("Paragraph ")
        assert part.text.endswith("moor.")


def test_a_part_cut_inside_a_paragraph_says_so_so_the_pause_after_it_is_a_sentence_pause():
    text = _chapter(paragraphs=1, sentences=200)
    parts = chapter_parts(text=text)
    assert len(parts) > 1
    assert [part.ends_paragraph for part in parts] == [False] * (len(parts) - 1) + [True]


def test_a_single_sentence_longer_than_the_limit_is_cut_at_words():
    sentence = " ".join(["nevermore"] * 1_500) + "."
    parts = chapter_parts(text=f"Quoth the raven. {sentence} Done.")
    assert all(len(part.text) <= PART_MAX_CHARS for part in parts)
    words = {"Quoth", "the", "raven.", "nevermore", "nevermore.", "Done."}
    assert {word for part in parts for word in part.text.split()} == words
    assert _letters("".join(part.text for part in parts)) == _letters(f"Quoth the raven. {sentence} Done.")


def test_a_word_longer_than_the_limit_is_cut_at_the_limit_and_kept_whole_in_total():
    word = "a" * (PART_MAX_CHARS * 2 + 10)
    parts = chapter_parts(text=word)
    assert [len(part.text) for part in parts] == [PART_MAX_CHARS, PART_MAX_CHARS, 10]


def test_a_chapter_with_no_text_has_no_parts():
    assert chapter_parts(text="  \n\n \n") == []


def test_a_smaller_limit_is_honoured():
    parts = chapter_parts(text=_chapter(paragraphs=3, sentences=10), max_chars=200)
    assert all(len(part.text) <= 200 for part in parts)


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="max_chars must be positive"):
        chapter_parts(text="Hello.", max_chars=0)


def test_every_chapter_of_a_real_book_is_cut_into_bounded_parts_that_hold_all_its_text():
    book = ingest_file(CORPUS / "good" / "sherlock-holmes.epub")
    for chapter in book.chapters:
        parts = chapter_parts(text=chapter.text, language=book.language)
        assert all(len(part.text) <= PART_MAX_CHARS for part in parts), chapter.title
        assert _letters("".join(part.text for part in parts)) == _letters(chapter.text), chapter.title


def test_a_chapter_just_over_the_limit_is_cut_into_even_parts_not_a_full_one_and_a_sliver():
    text = _chapter(paragraphs=4, sentences=12)  # about 1.3 x the limit
    assert PART_MAX_CHARS < len(text) < 2 * PART_MAX_CHARS
    parts = chapter_parts(text=text)
    assert len(parts) == 2
    sizes = [len(part.text) for part in parts]
    assert max(sizes) - min(sizes) < len(text) / 3


@pytest.mark.parametrize(("paragraphs", "sentences"), [(1, 3), (30, 4), (3, 80), (12, 20)])
def test_a_chapter_cut_again_keeping_its_own_parts_is_cut_the_same(paragraphs, sentences):
    text = _chapter(paragraphs, sentences)
    parts = chapter_parts(text=text)
    assert chapter_parts_keeping(text=text, previous=parts) == parts


def test_an_edit_in_one_part_changes_that_part_alone():
    text = _chapter(30, 4)
    parts = chapter_parts(text=text)
    assert len(parts) >= 4
    # A sentence removed from the third Part: a shorter chapter, whose fresh cut could move every cut.
    removed = re.findall(
        r"Paragraph \d+, sentence \d+: the hound was heard again on the moor\. ", parts[2].text
    )[1]
    edited = text.replace(removed, "", 1)
    kept = chapter_parts_keeping(text=edited, previous=parts)
    changed = [number for number, part in enumerate(kept) if part not in parts]
    assert changed == [2]
    assert _letters("".join(part.text for part in kept)) == _letters(edited)
    assert [part.speaks_title for part in kept] == [True] + [False] * (len(kept) - 1)


def test_text_added_at_the_end_or_the_start_keeps_the_parts_it_did_not_touch():
    text = _chapter(30, 4)
    parts = chapter_parts(text=text)
    longer = chapter_parts_keeping(text=text + "\n\nA last word.", previous=parts)
    assert longer[: len(parts) - 1] == parts[:-1]
    earlier = chapter_parts_keeping(text="A first word.\n\n" + text, previous=parts)
    assert earlier[1:] == [parts[1], *parts[2:]] or earlier[-(len(parts) - 1) :] == parts[1:]
    assert earlier[0].speaks_title
    assert _letters("".join(part.text for part in earlier)) == _letters("A first word." + text)
