"""Prices and balances as people read them: credits with two decimals, and the audio they buy.

The ledger counts hundredths of a credit (``credits.pricing``); how much
listening a balance is depends on the voice, so the time comes from the
voice's measured speaking rate (``tts_engine.speaking_rate``). Pages that do
not know the voice yet (the library, the credits page, emails) use the voice
new books start with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from credits.pricing import (
    audio_seconds,
    credits_noun,
    describe_credits,
    format_credits,
    format_duration,
    quote_hundredths,
)
from tts_engine.registry import DEFAULT_VOICE
from tts_engine.speaking_rate import audio_seconds_for, chars_per_second


def audio_seconds_of(hundredths: int, *, voice_key: str = DEFAULT_VOICE, speed: float = 1.0) -> int:
    """Seconds of audio ``hundredths`` of a credit buy in this voice at this speed."""
    return audio_seconds(hundredths, chars_per_second=chars_per_second(voice_key, speed=speed))


@dataclass(frozen=True)
class Amount:
    """An amount of credits ready to show: ``"2.50"``, ``"credits"``, ``"2 h 22 min"``."""

    hundredths: int
    credits: str
    noun: str
    audio_seconds: int
    audio: str

    def __str__(self) -> str:
        return f"{self.credits} {self.noun}"

    @property
    def with_audio(self) -> str:
        """``"2.50 credits (about 2 h 22 min of audio)"``."""
        return f"{self} (about {self.audio} of audio)"


def amount(hundredths: int, *, voice_key: str = DEFAULT_VOICE, speed: float = 1.0) -> Amount:
    seconds = audio_seconds_of(hundredths, voice_key=voice_key, speed=speed)
    return Amount(
        hundredths=hundredths,
        credits=format_credits(hundredths),
        noun=credits_noun(hundredths),
        audio_seconds=seconds,
        audio=format_duration(seconds),
    )


class PickerChapter(Protocol):
    index: int
    chars: int
    included: bool


@dataclass(frozen=True)
class Preselection:
    """The chapters the picker opens on, and what to say when the balance does not cover the book."""

    chosen: list[int]
    whole_book_hundredths: int
    note: str | None
    """None when the balance pays for every body chapter."""


def _chapter_range(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"chapter {numbers[0]}"
    return f"chapters {numbers[0]}–{numbers[-1]}"


def preselect(
    chapters: Sequence[PickerChapter],
    *,
    balance_hundredths: int,
    voice_key: str = DEFAULT_VOICE,
    speed: float = 1.0,
) -> Preselection:
    """The body chapters (those ingestion included) in reading order, as far as the balance pays.

    The picker never opens on a selection the reader cannot pay for: it stops
    before the first body chapter that would take the price over the balance,
    and says what the balance covers and what the whole book needs. Chapters
    are numbered as the picker numbers them (index + 1).
    """
    body = [chapter for chapter in chapters if chapter.included]
    whole = quote_hundredths(sum(chapter.chars for chapter in body))
    if whole <= balance_hundredths:
        return Preselection(
            chosen=[chapter.index for chapter in body], whole_book_hundredths=whole, note=None
        )
    chosen: list[PickerChapter] = []
    characters = 0
    for chapter in body:
        if quote_hundredths(characters + chapter.chars) > balance_hundredths:
            break
        chosen.append(chapter)
        characters += chapter.chars
    balance = amount(balance_hundredths, voice_key=voice_key, speed=speed)
    needs = f"The whole book needs {describe_credits(whole)}."
    if chosen:
        seconds = audio_seconds_for(characters, voice_key=voice_key, speed=speed)
        covers = _chapter_range([chapter.index + 1 for chapter in chosen])
        verb = "covers" if balance.noun == "credit" else "cover"
        note = f"Your {balance} {verb} {covers} ({format_duration(seconds)}). {needs}"
    else:
        first = body[0]
        note = (
            f"Your {balance} {'does' if balance.noun == 'credit' else 'do'} not cover "
            f"chapter {first.index + 1}, which needs "
            f"{describe_credits(quote_hundredths(first.chars))}. {needs}"
        )
    return Preselection(chosen=[chapter.index for chapter in chosen], whole_book_hundredths=whole, note=note)
