"""A reader's edits to one chapter of an audiobook: its text, its speed; each checked as ingestion would.

An edited text is cleaned as ingestion cleans a book's paragraphs
(``ingest.cleaning``: NFC, no invisible or control characters, single spaces,
a blank line between paragraphs) and held to ingestion's size of a chapter
(``ingest.chapters.MAX_CHAPTER_CHARS``, about two hours of speech). A speed is
held to the engines' range. A refusal names what is wrong and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from audiobooks.errors import ConversionError, InvalidSpeed
from audiobooks.ingest.chapters import MAX_CHAPTER_CHARS
from audiobooks.ingest.cleaning import count_words, join_paragraphs
from audiobooks.models import ConversionChapter
from tts_engine.engines.base import SPEED_MAX, SPEED_MIN
from tts_engine.speech import validate_speed

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


class ChapterTextEmpty(ConversionError):
    code = "chapter_text_empty"


class ChapterTextUnspeakable(ConversionError):
    code = "chapter_text_unspeakable"


class ChapterTextTooLong(ConversionError):
    code = "chapter_text_too_long"
    http_status = 413


class ChapterNotInAudiobook(ConversionError):
    code = "chapter_not_in_audiobook"
    http_status = 404


class ChapterEditInvalid(ConversionError):
    code = "chapter_edit_invalid"


@dataclass(frozen=True)
class ChapterEdit:
    """What the reader changes in one chapter, by its number in the audiobook (from 1, as ``mp3/NN.mp3``)."""

    number: int
    text: str | None = None
    speed: float | None = None


@dataclass(frozen=True)
class ChapterState:
    """A chapter as a revision says it: its text when edited (else empty), its own speed (else None)."""

    text: str
    speed: float | None


def chapter_text_cleaned(text: str) -> str:
    """The edited text as ingestion would have stored it, or a refusal: empty, nothing to say, too long."""
    cleaned = join_paragraphs(_PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").replace("\r", "\n")))
    if not cleaned:
        raise ChapterTextEmpty(
            "The chapter's text is empty. Type the text to be read, or keep the chapter as it is."
        )
    if not count_words(cleaned):
        raise ChapterTextUnspeakable(
            "The chapter's text has no word to read aloud, only punctuation or symbols."
        )
    if len(cleaned) > MAX_CHAPTER_CHARS:
        raise ChapterTextTooLong(
            f"The chapter's text has {len(cleaned):,} characters; a chapter can have at most "
            f"{MAX_CHAPTER_CHARS:,} (about two hours of speech)."
        )
    return cleaned


def chapter_speed_checked(speed: float) -> float:
    try:
        return validate_speed(speed)
    except (TypeError, ValueError) as exc:
        raise InvalidSpeed(
            f"A chapter's speed must be a number between {SPEED_MIN} and {SPEED_MAX}."
        ) from exc


def chapter_states_edited(
    *, selections: Sequence[ConversionChapter], edits: Sequence[ChapterEdit], speed: float
) -> tuple[dict[int, ChapterState], set[int], set[int]]:
    """Each chapter's state after ``edits`` by chapter id, and the ids whose text and speed were edited.

    A chapter keeps what earlier revisions gave it unless edited now. A text
    edited back to the book's own, or a speed back to the conversion's, is
    stored as "the book's" and "the conversion's", so the next edit compares
    with what the reader sees.
    """
    states = {selection.chapter_id: ChapterState(selection.text, selection.speed) for selection in selections}
    by_number = {selection.number: selection for selection in selections}
    texts_edited: set[int] = set()
    speeds_edited: set[int] = set()
    seen: set[int] = set()
    for edit in edits:
        selection = by_number.get(edit.number)
        if selection is None:
            raise ChapterNotInAudiobook(
                f"This audiobook has no chapter {edit.number}; "
                f"its chapters are numbered 1 to {len(selections)}."
            )
        if edit.number in seen:
            raise ChapterEditInvalid(f"Chapter {edit.number} is edited twice; send each chapter once.")
        seen.add(edit.number)
        if edit.text is None and edit.speed is None:
            raise ChapterEditInvalid(
                f"Say what changes in chapter {edit.number}: its text, its speed or both."
            )
        state = states[selection.chapter_id]
        if edit.text is not None:
            text = chapter_text_cleaned(edit.text)
            state = ChapterState("" if text == selection.chapter.text else text, state.speed)
            texts_edited.add(selection.chapter_id)
        if edit.speed is not None:
            own = chapter_speed_checked(edit.speed)
            state = ChapterState(state.text, None if own == speed else own)
            speeds_edited.add(selection.chapter_id)
        states[selection.chapter_id] = state
    return states, texts_edited, speeds_edited
