"""Voices as the reader meets them: each voice's stored stock preview, and previews of their own text.

Rendering speech is ``tts_engine``'s (``tts_engine.previews`` makes the
audio); this package stores, lists and serves it.
"""
