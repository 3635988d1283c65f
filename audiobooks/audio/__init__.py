"""Audio for chapters and books: join Parts, master, encode MP3 and M4B, write captions.

Plain Python over files on disk and ``settings.FFMPEG_BINARY``; no models. Every
step streams through files, so memory does not grow with the length of a book.
"""

from __future__ import annotations

from audiobooks.audio.ffmpeg import AudioError

__all__ = ["AudioError"]
