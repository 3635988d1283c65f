"""Audio for chapters and books: join Parts, master, encode MP3 and M4B, write captions.

Plain Python over files on disk and ``settings.FFMPEG_BINARY``; no models. Every
step streams through files, so memory does not grow with the length of a book.
"""

from __future__ import annotations

from audiobooks.audio.ffmpeg import AudioError

__all__ = ["AudioError"]

# The modules, each small and imported where used:
#   concat.concat_parts(parts, target) -> ChapterAudio
#   master.master_wav(chapter, target, ...) -> Mastered; master.mastering_filter(...) for encoders
#   mp3.encode_mp3(source, target, profile=CHAPTER_MP3 | ACX_MP3, tags=ChapterTags(...)) -> Path
#   captions.write_vtt(target, sentences, duration_ms=...) -> Path
#   m4b.build_m4b(files, target, tags=BookTags(...)) -> M4bResult
