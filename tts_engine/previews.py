"""Preview clips: about ten seconds of a voice, or of a reader's own text.

Rendering only. Storing a voice's clip once, and rate-limiting previews of a
reader's own text, belong to the callers (storage and credits).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tts_engine.lexicon import Applied
from tts_engine.registry import get_engine, split_voice_key
from tts_engine.speech import Pauses, RenderResult, render_to_wav
from tts_engine.text import primary_language

# About ten seconds at a natural pace: two sentences with a number and a
# title in them, so a listener hears how the voice handles both.
SAMPLE_TEXTS = {
    "en": (
        "It was the first of May, and the library had been quiet since half past eight. "
        "Dr. Adams opened the old book, turned to Chapter III, and began to read aloud."
    ),
}
MAX_PREVIEW_CHARS = 300
_PREVIEW_PAUSES = Pauses(sentence_ms=300, paragraph_ms=300, heading_ms=300, title_ms=300)


def sample_text(language: str) -> str:
    return SAMPLE_TEXTS.get(primary_language(language), SAMPLE_TEXTS["en"])


def trim_preview_text(text: str) -> str:
    """At most ``MAX_PREVIEW_CHARS``, cut at a space so no word is split."""
    text = " ".join(text.split())
    if len(text) <= MAX_PREVIEW_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_PREVIEW_CHARS + 1)
    return text[: cut if cut > 0 else MAX_PREVIEW_CHARS]


def render_preview(
    path: str | os.PathLike[str],
    *,
    voice_key: str,
    text: str | None = None,
    speed: float = 1.0,
    lexicon: Sequence[Applied] = (),
) -> RenderResult:
    """Render a preview WAV for ``voice_key`` (``engine:voice``) at ``path``.

    Without ``text`` it speaks the sample for the voice's language; with it, the
    reader's text, trimmed to ``MAX_PREVIEW_CHARS``, said with ``lexicon``
    as a Part would be (a word on the lexicon page, as the voice says it now).
    """
    engine_name, voice_id = split_voice_key(voice_key)
    engine = get_engine(engine_name)
    voice = engine.voice(voice_id)
    spoken = trim_preview_text(text) if text is not None else sample_text(voice.language)
    if not spoken:
        raise ValueError("There is no text to preview.")
    return render_to_wav(
        path,
        engine=engine,
        voice_id=voice_id,
        text=spoken,
        speed=speed,
        pauses=_PREVIEW_PAUSES,
        language=None if text is None else voice.language,
        lexicon=lexicon,
    )
