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
    """The chapter's text as Parts in reading order; empty when it has no text at all."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    pieces: list[tuple[str, bool]] = []  # (sentence or piece of one, ends its paragraph)
    for paragraph in split_paragraphs(text):
        sentences = [
            piece
            for sentence in split_sentences(paragraph, language)
            for piece in (split_chunks(sentence, max_chars) if len(sentence) > max_chars else [sentence])
        ]
        pieces.extend((sentence, number == len(sentences) - 1) for number, sentence in enumerate(sentences))

    parts: list[PartText] = []
    current = ""
    current_ends_paragraph = True
    for piece, ends_paragraph in pieces:
        separator = "" if not current else (_PARAGRAPH_BREAK if current_ends_paragraph else " ")
        if current and len(current) + len(separator) + len(piece) > max_chars:
            parts.append(PartText(current, speaks_title=not parts, ends_paragraph=current_ends_paragraph))
            current, separator = "", ""
        current += separator + piece
        current_ends_paragraph = ends_paragraph
    if current:
        parts.append(PartText(current, speaks_title=not parts, ends_paragraph=current_ends_paragraph))
    return parts
