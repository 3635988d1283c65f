"""What mastering, assembly and the ACX export are made from: the render cache, the cover, the authors.

A rendered Part is stored once under ``parts/<cache key>.wav``
(``cached_part_key``) with its sentence timings on its row; a chapter is
its Parts joined in order (``chapter_join``), which raises ``PartsMissing``
when the cache lost one. All three consumers import these from here, so a
chapter sounds the same in its MP3, the M4B and the ACX export.
"""

from __future__ import annotations

from pathlib import Path

from audiobooks.audio.concat import ChapterAudio, concat_parts
from audiobooks.models import Book, ConversionChapter, Part, StoredObject
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from tts_engine.speech import RenderResult, SentenceTiming

PART_EXTENSION = "wav"
_COVER_TYPES = ("image/jpeg", "image/png")  # what ID3 and MP4 cover art take


class PartsMissing(Exception):
    """Cached Parts vanished from storage before they were joined (purged, or deleted by hand)."""

    def __init__(self, part_ids: list[int]) -> None:
        super().__init__(f"Parts {part_ids} are no longer stored")
        self.part_ids = part_ids


def cached_part_key(cache_key: str) -> str:
    """Where the render cache keeps the audio of every Part with this ``cache_key``."""
    return storage_keys.part_key(digest=cache_key, extension=PART_EXTENSION)


def timings_of(part: Part) -> list[SentenceTiming]:
    return [SentenceTiming(**sentence) for sentence in part.sentences]


def chapter_join(*, conversion_chapter: ConversionChapter, target: Path) -> ChapterAudio:
    """Download the chapter's rendered Parts beside ``target`` and join them into it, in order."""
    parts = Part.objects.filter(
        conversion_id=conversion_chapter.conversion_id, chapter_id=conversion_chapter.chapter_id
    ).order_by("chapter_part_index")
    missing: list[int] = []
    rendered: list[RenderResult] = []
    for part in parts.only("id", "cache_key", "sentences", "chapter_part_index"):
        path = target.with_name(f"{target.stem}-part-{part.chapter_part_index}.wav")
        try:
            backend.object_download(cached_part_key(part.cache_key), path)
        except FileNotFoundError:
            missing.append(part.pk)
            continue
        # concat_parts reads the rate and length from the file itself.
        rendered.append(RenderResult(path=path, sample_rate=0, num_samples=0, sentences=timings_of(part)))
    if missing:
        raise PartsMissing(missing)
    try:
        return concat_parts(rendered, target)
    finally:
        for result in rendered:
            result.path.unlink(missing_ok=True)


def book_cover(*, book: Book, workdir: Path) -> Path | None:
    """The book's cover as a local file, when it is one that audio files can carry."""
    if not book.cover_key:
        return None
    cover = StoredObject.objects.filter(key=book.cover_key).values_list("content_type", flat=True).first()
    if cover not in _COVER_TYPES:
        return None
    path = workdir / f"cover{Path(book.cover_key).suffix}"
    try:
        backend.object_download(book.cover_key, path)
    except FileNotFoundError:
        return None
    return path


def authors_of(book: Book) -> str:
    return book.authors_text or "Unknown author"
