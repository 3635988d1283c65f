"""Paragraphs into sentences (pysbd), sentences into chunks an engine accepts.

Sentences are found in the text as written, before normalisation, because the
captions show the written sentence; each sentence is then normalised and, if it
is still longer than the engine's limit, cut at a clause mark or a space.
"""

from __future__ import annotations

import re
import threading

import pysbd

from tts_engine.text import primary_language

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SPACE = re.compile(r"\s+")
# A clause mark followed by a space: the best place to take a breath.
_CLAUSE = re.compile(r"[,;:](?=\s)")


# One segmenter per thread and language. A pysbd.Segmenter keeps the text it
# is segmenting on itself (``segment`` sets ``self.original_text``), so one
# shared by threads (a threaded web server, submissions racing) returns pieces
# of another thread's text and drops sentences: a chapter cut into Parts from
# 16 threads at once lost up to an eighth of its characters.
_segmenters = threading.local()


def _segmenter(language: str) -> pysbd.Segmenter:
    cache: dict[str, pysbd.Segmenter] = _segmenters.__dict__.setdefault("by_language", {})
    code = primary_language(language)
    code = code if code in pysbd.languages.LANGUAGE_CODES else "en"
    if code not in cache:
        cache[code] = pysbd.Segmenter(language=code, clean=False)
    return cache[code]


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; single line breaks are spaces."""
    paragraphs = (_SPACE.sub(" ", block).strip() for block in _BLANK_LINE.split(text))
    return [paragraph for paragraph in paragraphs if paragraph]


def split_sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of one paragraph, as written, without surrounding space."""
    text = _SPACE.sub(" ", text).strip()
    if not text:
        return []
    sentences = (sentence.strip() for sentence in _segmenter(language).segment(text))
    return [sentence for sentence in sentences if sentence]


def split_chunks(sentence: str, max_chars: int) -> list[str]:
    """Cut one sentence into chunks of at most ``max_chars``, never inside a word.

    A chunk ends at the last clause mark in its second half if there is one,
    else at the last space. The only exception is a single "word" longer than
    the limit (a run of characters with no space at all), which is cut at the
    limit because an engine's limit is a hard one.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[str] = []
    rest = _SPACE.sub(" ", sentence).strip()
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]  # a space just past the limit is a fine cut too
        clauses = [m.end() for m in _CLAUSE.finditer(window) if max_chars // 2 <= m.end() <= max_chars]
        if clauses:
            cut = clauses[-1]
        elif (space := window.rfind(" ")) > 0:
            cut = space
        else:
            cut = max_chars
        chunks.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        chunks.append(rest)
    return chunks
