from __future__ import annotations

import pytest

from tts_engine.opening import Opening, chapter_opening


def opening(title: str, text: str) -> Opening:
    return chapter_opening(title, text.split("\n\n"), "en")


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        # the same words
        ("A Scandal in Bohemia", "A Scandal in Bohemia\n\nI\n\nTo…", Opening("A Scandal in Bohemia", 1)),
        ("Imprint", "Imprint\n\nThis ebook is the product of many hours.", Opening("Imprint", 1)),
        # numbers written three ways, and any case
        ("Chapter 1", "CHAPTER ONE\n\nCall me Ishmael.", Opening("Chapter 1", 1)),
        ("Chapter I", "chapter 1\n\nCall me Ishmael.", Opening("Chapter I", 1)),
        # the title holds a heading set on two lines
        ("Chapter 1. Loomings.", "Chapter 1.\n\nLoomings.\n\nCall me.", Opening("Chapter 1. Loomings.", 2)),
        ("Chapter 1. Loomings.", "Loomings\n\nCall me Ishmael.", Opening("Chapter 1. Loomings.", 1)),
        # the heading holds the title: it says more, so it is announced
        ("Loomings", "CHAPTER 1\n\nLoomings\n\nCall me Ishmael.", Opening("CHAPTER 1. Loomings", 2)),
        ("Chapter I", "Chapter 1: Loomings\n\nCall me Ishmael.", Opening("Chapter 1: Loomings", 1)),
    ],
)  # fmt: skip
def test_a_heading_that_says_the_title_is_announced_once_in_the_fuller_wording(title, text, expected):
    assert opening(title, text) == expected


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Titlepage", "The Adventures of Sherlock Holmes\n\nBy Arthur Conan Doyle."),
        ("The Storm", "The rain began at noon.\n\nIt did not stop."),
        ("Yes", "“Yes.”\n\nShe said it twice."),  # dialogue is no heading
        ("The Red Room", "The Red Room was the largest room in the house, and nobody had slept in it "
                         "for years, not since the night of the fire."),  # a sentence, not a heading
        ("A Scandal in Bohemia", "I\n\nTo Sherlock Holmes she is always the woman."),
        ("", "Chapter 1\n\nCall me Ishmael."),
    ],
)  # fmt: skip
def test_an_opening_that_is_not_the_title_is_left_to_be_read(title, text):
    assert opening(title, text).consumed == 0
