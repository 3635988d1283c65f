"""Cutting a chapter into Parts: the bounded units that synthesis workers render.

A Part holds at most ``PART_MAX_CHARS`` characters of text (under three
minutes of audio), cut between sentences so no long chapter serializes a job,
and a chapter's Parts are about the same size: a chapter of 2,600 characters
is two Parts of 1,300, not one of 2,500 and one of 100, so every synthesis
process gets an even share of a chapter and the first chapter is playable
soonest.
Only a single sentence longer than the limit is cut inside, at a clause mark
or a space (``tts_engine.chunking.split_chunks``). Within a Part, sentences
of one paragraph are joined by a space and paragraphs by a blank line, so
``plan_speech`` pauses where the book does. Every non-space character of the
chapter's text lands in exactly one Part, in order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tts_engine.chunking import split_chunks, split_paragraphs, split_sentences

PART_MAX_CHARS = 2_500
# Room over the even share, so cutting only between sentences and paragraphs
# does not spill a sliver into one more Part.
_EVEN_SHARE_SLACK = 1.15
_PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True)
class PartText:
    text: str
    speaks_title: bool  # the chapter's first Part says its title first
    ends_paragraph: bool  # False when the cut fell inside a paragraph


def chapter_parts(*, text: str, language: str = "en", max_chars: int = PART_MAX_CHARS) -> list[PartText]:
    """The chapter's text as Parts in reading order; empty when it has no text at all.

    A paragraph that fits in the Part being filled goes in whole; only one
    that does not is split into sentences (pysbd is slow, and a whole book is
    cut while the reader waits for the submission to answer).
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    pieces_needed = math.ceil(len(text) / max_chars)
    fill = min(max_chars, math.ceil(len(text) / max(1, pieces_needed) * _EVEN_SHARE_SLACK))
    parts: list[PartText] = []
    current = ""
    current_ends_paragraph = True

    def add(piece: str, *, ends_paragraph: bool) -> None:
        nonlocal current, current_ends_paragraph
        separator = "" if not current else (_PARAGRAPH_BREAK if current_ends_paragraph else " ")
        if current and len(current) + len(separator) + len(piece) > fill:
            parts.append(PartText(current, speaks_title=not parts, ends_paragraph=current_ends_paragraph))
            current, separator = "", ""
        current += separator + piece
        current_ends_paragraph = ends_paragraph

    for paragraph in split_paragraphs(text):
        room = fill - len(current) - (len(_PARAGRAPH_BREAK) if current else 0)
        if len(paragraph) <= room:
            add(paragraph, ends_paragraph=True)
            continue
        pieces = [
            piece
            for sentence in split_sentences(paragraph, language)
            for piece in (split_chunks(sentence, max_chars) if len(sentence) > max_chars else [sentence])
        ]
        for number, piece in enumerate(pieces):
            add(piece, ends_paragraph=number == len(pieces) - 1)
    if current:
        parts.append(PartText(current, speaks_title=not parts, ends_paragraph=current_ends_paragraph))
    return parts


def chapter_parts_keeping(
    *, text: str, previous: Sequence[PartText], language: str = "en", max_chars: int = PART_MAX_CHARS
) -> list[PartText]:
    """The chapter's text as Parts, keeping the ``previous`` Parts it still holds word for word.

    After an edit, cutting the whole chapter afresh would move the cuts (the
    even share changes with the length) and so change every Part's text and
    render-cache key. Instead the previous Parts the new text still opens with,
    and those it still ends with, are kept as they were, each with the same
    break (paragraph or sentence) after it; only the text between them is cut
    again. An edit in one Part re-renders that Part, or the few around it.
    """
    if not previous:
        return chapter_parts(text=text, language=language, max_chars=max_chars)
    head, at = _kept_head(text, previous)
    tail, stop, middle_ends_paragraph = _kept_tail(text, previous[len(head) :], at)
    middle = text[at:stop].strip() if at < stop else ""
    pieces = list(head)
    if middle:
        cut = chapter_parts(text=middle, language=language, max_chars=max_chars)
        if tail and cut:
            cut[-1] = replace(cut[-1], ends_paragraph=middle_ends_paragraph)
        pieces.extend(cut)
    pieces.extend(tail)
    if not pieces:
        return []
    pieces[-1] = replace(pieces[-1], ends_paragraph=True)  # a chapter's last Part ends its last paragraph
    return [replace(piece, speaks_title=number == 0) for number, piece in enumerate(pieces)]


def _kept_head(text: str, previous: Sequence[PartText]) -> tuple[list[PartText], int]:
    """The previous Parts the text opens with, each followed by its break; and where they end."""
    head: list[PartText] = []
    at = 0
    for part in previous:
        end = at + len(part.text)
        if not text.startswith(part.text, at):
            break
        if end == len(text):
            return [*head, part], end
        separator = _PARAGRAPH_BREAK if part.ends_paragraph else " "
        if not text.startswith(separator, end):
            break
        head.append(part)
        at = end + len(separator)
    return head, at


def _kept_tail(text: str, rest: Sequence[PartText], at: int) -> tuple[list[PartText], int, bool]:
    """The previous Parts the text ends with, after ``at``; where the text before them ends; its break."""
    tail: list[PartText] = []
    stop = len(text)
    ends_paragraph = True
    if at >= len(text):
        return tail, stop, ends_paragraph
    for part in reversed(rest):
        start = stop - len(part.text)
        if start < at or text[start:stop] != part.text:
            break
        if tail and part.ends_paragraph != ends_paragraph:
            break
        if start == at:
            return [part, *tail], start, ends_paragraph
        if text.endswith(_PARAGRAPH_BREAK, at, start):
            before, breaks_paragraph = start - len(_PARAGRAPH_BREAK), True
        elif text.endswith(" ", at, start):
            before, breaks_paragraph = start - 1, False
        else:
            break
        tail.insert(0, part)
        stop, ends_paragraph = before, breaks_paragraph
    return tail, stop, ends_paragraph
