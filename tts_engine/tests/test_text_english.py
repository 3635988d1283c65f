from __future__ import annotations

import pytest

from tts_engine.text import (
    NORMALISER_VERSION,
    heading_words,
    is_heading,
    language_warning,
    languages_differ,
    normalise,
    normaliser_for,
    primary_language,
)
from tts_engine.text.english import roman_value

EXAMPLES = [
    # numbers
    (
        "He had 3 dogs and 1,234 sheep.",
        "He had three dogs and one thousand two hundred and thirty-four sheep.",
    ),
    ("Pi is about 3.14.", "Pi is about three point one four."),
    ("It was -5 outside.", "It was minus five outside."),
    ("Agent 007 reported.", "Agent zero zero seven reported."),
    # ordinals, years, decades
    ("The 21st of June.", "The twenty-first of June."),
    ("She came 2nd and 3rd.", "She came second and third."),
    ("In 1984 and 2005.", "In nineteen eighty-four and two thousand and five."),
    ("The 1960s and the '70s.", "The nineteen sixties and the seventies."),
    ("The war of 1914–1918.", "The war of nineteen fourteen to nineteen eighteen."),
    # currency and percentages
    ("It cost $5.", "It cost five dollars."),
    ("It cost $1,234.56.", "It cost one thousand two hundred and thirty-four dollars and fifty-six cents."),
    ("A £1 coin and €2.50.", "A one pound coin and two euros and fifty cents."),
    ("They raised $3.5 million.", "They raised three point five million dollars."),
    ("Up 45% or 3.5 %.", "Up forty-five percent or three point five percent."),
    # times
    ("We met at 9:00.", "We met at nine o'clock."),
    ("At 7:05 p.m. sharp.", "At seven oh five PM sharp."),
    ("Wake at 10:30 a.m.", "Wake at ten thirty AM."),
    # abbreviations
    ("Mr. Smith met Dr. Watson.", "Mister Smith met Doctor Watson."),
    ("Mrs Hudson and Ms. Adler.", "Missus Hudson and Miz Adler."),
    ("St. Paul lived on Main St.", "Saint Paul lived on Main Street."),
    ("He lives on Mulholland Dr. now.", "He lives on Mulholland Drive now."),
    ("Acme Inc. was founded by John Smith Jr.", "Acme Incorporated was founded by John Smith Junior."),
    ("Fruit, e.g. apples, i.e. food, etc.", "Fruit, for example apples, that is food, et cetera."),
    ("See No. 5, vol. 3, p. 12.", "See number five, volume three, page twelve."),
    ("Prof. Moriarty vs. Capt. Nemo.", "Professor Moriarty versus Captain Nemo."),
    # Roman numerals after heading words, in body text too
    ("As told in Chapter XIV.", "As told in Chapter fourteen."),
    ("Act III, Scene ii.", "Act three, Scene two."),
    # URLs and e-mails
    ("Visit https://www.example.com/books?id=3 now.", "Visit w w w dot example dot com slash books now."),
    ("Write to jane.doe@example.org.", "Write to jane dot doe at example dot org."),
    ("See example.com for more.", "See example dot com for more."),
    # symbols and fractions
    ("Salt & pepper.", "Salt and pepper."),
    ("2 + 2 = 4", "two plus two equals four"),
    ("It was 25 °C.", "It was twenty-five degrees Celsius."),
    ("Issue #42 is open.", "Issue number forty-two is open."),
    ("Ask his/her friend.", "Ask his or her friend."),
    ("Add 1/2 cup and 3/4 spoon.", "Add one half cup and three quarters spoon."),
    ("She ate 2½ apples.", "She ate two and a half apples."),
    # quotes, dashes and ellipses become plain pauses
    ('He said "hello" and left.', "He said hello and left."),
    ("He said “hello” and left.", "He said hello and left."),
    ("It’s the dog’s bone, isn't it?", "It's the dog's bone, isn't it?"),
    ("Wait — what?", "Wait, what?"),
    ("Wait -- what?", "Wait, what?"),
    ("Well... maybe.", "Well, maybe."),
    ("Well… maybe.", "Well, maybe."),
    ("And then…", "And then."),
    ("She paused (briefly) and spoke.", "She paused, briefly, and spoke."),
    ("A note[1] and *bold* _words_.", "A note and bold words."),
]


@pytest.mark.parametrize(("written", "spoken"), EXAMPLES)
def test_english_is_normalised_as_a_narrator_would_say_it(written, spoken):
    assert normalise(written, "en") == spoken


@pytest.mark.parametrize(
    ("heading", "spoken"),
    [
        ("Chapter IV", "Chapter four"),
        ("CHAPTER XII. The Return", "CHAPTER twelve. The Return"),
        ("IV. The Return", "four. The Return"),
        ("XII", "twelve"),
        ("I", "one"),
        ("I Remember", "I Remember"),
        ("Part II: War", "Part two: War"),
        ("MIX TAPE", "MIX TAPE"),
    ],
)
def test_roman_numerals_in_headings_are_read_as_numbers(heading, spoken):
    assert normalise(heading, "en", heading=True) == spoken


def test_a_lone_capital_i_in_body_text_stays_a_pronoun():
    assert normalise("I think I can.", "en") == "I think I can."


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("Henry VIII had six wives.", "Henry the Eighth had six wives."),
        ("Henry VIII's wives.", "Henry the Eighth's wives."),
        ("King George III lost them.", "King George the Third lost them."),
        ("Pope John XXIII spoke.", "Pope John the Twenty-Third spoke."),
        ("It was built by Louis XIV.", "It was built by Louis the Fourteenth."),
        ("Elizabeth I of England.", "Elizabeth the First of England."),
        ("After World War II ended.", "After World War Two ended."),
        # "I" after a name is the pronoun unless only a king's numeral fits
        ("Richard I was sure of it.", "Richard I was sure of it."),
        ("For my part I think so.", "For my part I think so."),
        ("Then Holmes and I left.", "Then Holmes and I left."),
        # a numeral is one case: "Mix" is a word
        ("See Chapter Mix.", "See Chapter Mix."),
    ],
)
def test_a_kings_numeral_in_prose_is_an_ordinal_and_the_pronoun_stays(written, spoken):
    assert normalise(written, "en") == spoken


@pytest.mark.parametrize(
    "paragraph",
    ["I", "II", "IV.", "XLII", "3", "Chapter XLII", "CHAPTER ONE", "Chapter forty-two", "Part II",
     "Part II: War", "Book III", "Act I, Scene 2", "Scene ii", "Chapter 1. Loomings.", "IV. The Return"],
)  # fmt: skip
def test_a_section_heading_is_recognised(paragraph):
    assert is_heading(paragraph, "en")


@pytest.mark.parametrize(
    "paragraph",
    ["I think so.", "“I.”", "Loomings", "Part one of the plan was simple.", "Chapter Ivy", "MIX TAPE",
     "I Remember", "Chapter " + "x" * 100, "Part II? Never!"],
)  # fmt: skip
def test_a_paragraph_of_the_story_is_no_heading(paragraph):
    assert not is_heading(paragraph, "en")


def test_headings_compare_by_what_is_said_whatever_the_case_punctuation_or_numerals():
    same = {heading_words(written) for written in ("Chapter 1.", "CHAPTER I", "Chapter One", "chapter  one!")}
    assert same == {("chapter", "one")}
    assert heading_words("The Engineer’s Thumb") == ("the", "engineers", "thumb")


@pytest.mark.parametrize(
    ("numeral", "value"), [("IV", 4), ("MCMLXXXIV", 1984), ("xl", 40), ("IIII", None), ("", None)]
)
def test_roman_values_are_parsed_strictly(numeral, value):
    assert roman_value(numeral) == value


def test_output_has_no_characters_the_engine_would_read_aloud_as_symbols():
    spoken = normalise("A * B | C ~ D ^ E < F > G [x] {y} `z` \\ #", "en")
    assert not set(spoken) & set("*|~^<>[]{}`\\#")


def test_the_normaliser_version_is_a_positive_integer_for_cache_keys():
    assert isinstance(NORMALISER_VERSION, int)
    assert NORMALISER_VERSION >= 1


def test_a_language_without_its_own_normaliser_still_gets_punctuation_cleaned():
    assert normaliser_for("de-DE").__module__ == "tts_engine.text.common"
    assert normalise("Er sagte „Hallo“ — und ging…", "de") == "Er sagte Hallo, und ging."


def test_a_language_without_its_own_module_knows_a_bare_section_number_as_a_heading():
    assert is_heading("XII", "de")
    assert is_heading("3.", "de")
    assert not is_heading("Kapitel eins", "de")


@pytest.mark.parametrize(("tag", "primary"), [("en_US", "en"), ("en-gb", "en"), ("EN", "en"), ("", "")])
def test_primary_language_ignores_region_and_case(tag, primary):
    assert primary_language(tag) == primary


def test_a_voice_in_another_language_than_the_book_is_reported():
    assert languages_differ("en-US", "de")
    warning = language_warning("en-US", "de")
    assert warning is not None
    assert "en-US" in warning
    assert "de" in warning


@pytest.mark.parametrize("book", ["en-GB", "en", "EN_us", "", "und"])
def test_the_same_language_or_an_unknown_one_is_not_reported(book):
    assert language_warning("en-US", book) is None
