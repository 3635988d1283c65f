"""Cutting a chapter into Parts: the bounded units that synthesis workers render.

A Part holds at most ``PART_MAX_CHARS`` characters of text (about four
minutes of audio), cut between sentences so no long chapter serializes a job.
Only a single sentence longer than the limit is cut inside, at a clause mark
or a space (``tts_engine.chunking.split_chunks``). Within a Part, sentences
of one paragraph are joined by a space and paragraphs by a blank line, so
``plan_speech`` pauses where the book does. Every non-space character of the
chapter's text lands in exactly one Part, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from tts_engine.chunking import split_chunks, split_paragraphs, split_sentences

PART_MAX_CHARS = 5_000
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
    parts: list[PartText] = []
    current = ""
    current_ends_paragraph = True

    def add(piece: str, *, ends_paragraph: bool) -> None:
        nonlocal current, current_ends_paragraph
        separator = "" if not current else (_PARAGRAPH_BREAK if current_ends_paragraph else " ")
        if current and len(current) + len(separator) + len(piece) > max_chars:
            parts.append(PartText(current, speaks_title=not parts, ends_paragraph=current_ends_paragraph))
            current, separator = "", ""
        current += separator + piece
        current_ends_paragraph = ends_paragraph

    for paragraph in split_paragraphs(text):
        room = max_chars - len(current) - (len(_PARAGRAPH_BREAK) if current else 0)
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
