"""The read-along EPUB: a book's ready chapters as EPUB 3 with Media Overlays, written while it is sent.

Each chapter becomes an XHTML page regenerated from what was read aloud, one
``<span>`` per sentence (the original formatting is not kept: paragraphs
follow the Parts' paragraph ends), a SMIL file pairing every span with its
clip of the chapter's MP3, and that MP3 itself. Reading systems that know
Media Overlays (Thorium, Apple Books, …) play the audio and highlight each
sentence with the ``-epub-media-overlay-active`` class.

Sentence times come from the Parts' timings, laid end to end as mastering
joins them and moved by the head room tone, as the captions are; no audio is
decoded. Which audio: as for the ACX export, the newest conversion with a
ready chapter, and only its ready chapters whose MP3 is stored.

The zip is stored uncompressed, so its size is known before the first byte
(``ReadAlongExport.size``): the page states it and the response sends it as
Content-Length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr

from django.db.models import Exists, OuterRef

from accounts.models import User
from audiobooks import selectors
from audiobooks.audio.master import HEAD_MS
from audiobooks.delivery.acx import NOTHING_MESSAGE, NothingToExport
from audiobooks.models import Book, Conversion, ConversionChapter, Part, StoredObject
from audiobooks.storage import backend
from audiobooks.storage import keys as storage_keys
from audiobooks.storage.zipstream import ZipEntry, zip_stream

ACTIVE_CLASS = "-epub-media-overlay-active"
COVER_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
STYLE = f"""body {{ font-family: serif; line-height: 1.5; margin: 1em; }}
h1 {{ font-size: 1.4em; }}
.{ACTIVE_CLASS} {{ background-color: #fff3a3; color: inherit; }}
"""


@dataclass(frozen=True)
class Sentence:
    id: str
    text: str
    start_ms: int
    end_ms: int
    is_title: bool


@dataclass(frozen=True)
class ReadAlongChapter:
    number: int
    title: str
    mp3: StoredObject
    duration_ms: int
    paragraphs: list[list[Sentence]]

    @property
    def name(self) -> str:
        return f"chapter-{self.number:03d}"


@dataclass(frozen=True)
class ReadAlongExport:
    book: Book
    conversion: Conversion
    chapters: list[ReadAlongChapter]
    cover: StoredObject | None
    modified: datetime
    texts: dict[str, bytes]  # every generated file, by its path in the EPUB

    @property
    def filename(self) -> str:
        return f"{self.book.display_title} (read-along).epub"

    def entries(self) -> list[ZipEntry]:
        """In OCF order: ``mimetype`` first (stored, as the format requires), then the rest."""
        entries = [_text_entry(name, data, self.modified) for name, data in self.texts.items()]
        for chapter in self.chapters:
            entries.append(_object_entry(f"OEBPS/audio/{chapter.name}.mp3", chapter.mp3, self.modified))
        if self.cover is not None:
            cover = f"OEBPS/images/cover.{COVER_TYPES[self.cover.content_type]}"
            entries.append(_object_entry(cover, self.cover, self.modified))
        return entries

    @property
    def size(self) -> int:
        """The zip's exact length: what ``zip_stream`` writes for stored entries with data descriptors."""
        total = 22  # the end of central directory record
        for entry in self.entries():
            name = len(entry.name.encode())
            # Local header and data, the data descriptor (signature, CRC, two sizes), the central header.
            total += 30 + name + entry.size + 16 + 46 + name
        return total


def _text_entry(name: str, data: bytes, modified: datetime) -> ZipEntry:
    return ZipEntry(name=name, size=len(data), modified=modified, chunks=lambda: iter([data]))


def _object_entry(name: str, stored: StoredObject, modified: datetime) -> ZipEntry:
    return ZipEntry(
        name=name, size=stored.size, modified=modified, chunks=lambda: backend.object_chunks(stored.key)
    )


def readalong_export_get_for_user(*, user: User, book_uuid: UUID) -> ReadAlongExport:
    """The user's book's read-along EPUB, or 404 (another user's book), or ``NothingToExport``."""
    book = selectors.book_get_for_user(user=user, book_uuid=book_uuid)
    ready = ConversionChapter.objects.filter(conversion=OuterRef("pk"), status=ConversionChapter.Status.READY)
    conversion = (
        Conversion.objects.filter(owner=user, book=book)
        .filter(Exists(ready))
        .order_by("-created_at", "-pk")
        .first()
    )
    if conversion is None:
        raise NothingToExport(NOTHING_MESSAGE)
    selections = list(
        conversion.selections.filter(status=ConversionChapter.Status.READY)
        .select_related("chapter")
        .order_by("position")
    )
    ids = storage_keys.deliverable_ids(conversion)
    mp3_keys = {s.number: storage_keys.mp3_key(**ids, number=s.number) for s in selections}
    mp3s = {
        row.key: row
        for row in StoredObject.objects.filter(owner=user, key__in=mp3_keys.values(), expires_at__isnull=True)
    }
    parts: dict[int, list[Part]] = {}
    for part in (
        Part.objects.filter(conversion=conversion, chapter_id__in=[s.chapter_id for s in selections])
        .only("chapter_id", "chapter_part_index", "duration_ms", "sentences", "ends_paragraph")
        .order_by("chapter_id", "chapter_part_index")
    ):
        parts.setdefault(part.chapter_id, []).append(part)
    chapters = [
        ReadAlongChapter(
            number=selection.number,
            title=selection.chapter.title or f"Chapter {selection.number}",
            mp3=mp3s[mp3_keys[selection.number]],
            duration_ms=selection.duration_ms or 0,
            paragraphs=_paragraphs(parts.get(selection.chapter_id, [])),
        )
        for selection in selections
        if mp3_keys[selection.number] in mp3s
    ]
    if not chapters:
        raise NothingToExport(NOTHING_MESSAGE)
    cover = None
    if book.cover_key:
        cover = StoredObject.objects.filter(
            owner=user, key=book.cover_key, content_type__in=COVER_TYPES
        ).first()
    modified = max(s.finished_at or conversion.created_at for s in selections)
    export = ReadAlongExport(
        book=book, conversion=conversion, chapters=chapters, cover=cover, modified=modified, texts={}
    )
    export.texts.update(_texts(export))
    return export


def _paragraphs(parts: list[Part]) -> list[list[Sentence]]:
    """The chapter's sentences on the mastered timeline, grouped in paragraphs where the Parts end them."""
    paragraphs: list[list[Sentence]] = [[]]
    offset, count = HEAD_MS, 0
    for part in parts:
        for timing in part.sentences:
            count += 1
            sentence = Sentence(
                id=f"s{count}",
                text=str(timing["text"]),
                start_ms=offset + int(timing["start_ms"]),
                end_ms=offset + int(timing["end_ms"]),
                is_title=bool(timing.get("is_title")),
            )
            if sentence.is_title:
                paragraphs.append([sentence])
                paragraphs.append([])
            elif sentence.text.strip() and sentence.end_ms > sentence.start_ms:
                paragraphs[-1].append(sentence)
        offset += part.duration_ms or 0
        if part.ends_paragraph and paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def _clock(ms: int) -> str:
    return f"{ms / 1000:.3f}s"


def _duration(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours}:{minutes:02d}:{rest / 1000:06.3f}"


def _chapter_xhtml(chapter: ReadAlongChapter, language: str) -> str:
    body = []
    has_title = any(s.is_title for paragraph in chapter.paragraphs for s in paragraph)
    if not has_title:
        body.append(f"<h1>{escape(chapter.title)}</h1>")
    for paragraph in chapter.paragraphs:
        spans = " ".join(f'<span id="{s.id}">{escape(s.text)}</span>' for s in paragraph)
        body.append(f"<h1>{spans}</h1>" if paragraph[0].is_title else f"<p>{spans}</p>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
        f'lang="{language}" xml:lang="{language}">\n<head><meta charset="UTF-8"/>'
        f"<title>{escape(chapter.title)}</title>"
        '<link rel="stylesheet" type="text/css" href="style.css"/></head>\n'
        f'<body><section epub:type="chapter" id="chapter">\n'
        + "\n".join(body)
        + "\n</section></body>\n</html>\n"
    )


def _chapter_smil(chapter: ReadAlongChapter) -> str:
    pars = [
        f'<par id="p{s.id}"><text src="../{chapter.name}.xhtml#{s.id}"/>'
        f'<audio src="../audio/{chapter.name}.mp3" clipBegin="{_clock(s.start_ms)}" '
        f'clipEnd="{_clock(min(s.end_ms, chapter.duration_ms or s.end_ms))}"/></par>'
        for paragraph in chapter.paragraphs
        for s in paragraph
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<smil xmlns="http://www.w3.org/ns/SMIL" xmlns:epub="http://www.idpf.org/2007/ops" version="3.0">\n'
        f'<body><seq id="seq-{chapter.name}" epub:textref="../{chapter.name}.xhtml#chapter" '
        'epub:type="chapter">\n' + "\n".join(pars) + "\n</seq></body>\n</smil>\n"
    )


def _nav(export: ReadAlongExport, language: str) -> str:
    items = "\n".join(
        f'<li><a href="{chapter.name}.xhtml">{escape(chapter.title)}</a></li>' for chapter in export.chapters
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
        f'lang="{language}" xml:lang="{language}">\n'
        '<head><meta charset="UTF-8"/><title>Contents</title></head>\n'
        f'<body><nav epub:type="toc" id="toc"><h1>Contents</h1><ol>\n{items}\n</ol></nav></body>\n</html>\n'
    )


def _package(export: ReadAlongExport, language: str) -> str:
    book = export.book
    modified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    total = sum(chapter.duration_ms for chapter in export.chapters)
    metadata = [
        f'<dc:identifier id="uid">urn:uuid:{export.conversion.uuid}</dc:identifier>',
        f"<dc:title>{escape(book.display_title)}</dc:title>",
        f"<dc:language>{escape(language)}</dc:language>",
        *(f"<dc:creator>{escape(str(author))}</dc:creator>" for author in book.authors or []),
        f'<meta property="dcterms:modified">{modified}</meta>',
        f'<meta property="media:duration">{_duration(total)}</meta>',
        f'<meta property="media:active-class">{ACTIVE_CLASS}</meta>',
        *(
            f'<meta property="media:duration" refines="#smil-{c.name}">{_duration(c.duration_ms)}</meta>'
            for c in export.chapters
        ),
    ]
    manifest = [
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
        '<item id="style" href="style.css" media-type="text/css"/>',
    ]
    for chapter in export.chapters:
        manifest += [
            f'<item id="{chapter.name}" href="{chapter.name}.xhtml" media-type="application/xhtml+xml" '
            f'media-overlay="smil-{chapter.name}"/>',
            f'<item id="smil-{chapter.name}" href="smil/{chapter.name}.smil" '
            'media-type="application/smil+xml"/>',
            f'<item id="audio-{chapter.name}" href="audio/{chapter.name}.mp3" media-type="audio/mpeg"/>',
        ]
    if export.cover is not None:
        manifest.append(
            f'<item id="cover" href="images/cover.{COVER_TYPES[export.cover.content_type]}" '
            f'media-type="{export.cover.content_type}" properties="cover-image"/>'
        )
    spine = "\n".join(f'<itemref idref="{chapter.name}"/>' for chapter in export.chapters)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid" '
        f"xml:lang={quoteattr(language)}>\n"
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        + "\n".join(metadata)
        + "\n</metadata>\n<manifest>\n"
        + "\n".join(manifest)
        + f"\n</manifest>\n<spine>\n{spine}\n</spine>\n</package>\n"
    )


CONTAINER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">\n'
    '<rootfiles><rootfile full-path="OEBPS/package.opf" '
    'media-type="application/oebps-package+xml"/></rootfiles>\n'
    "</container>\n"
)


def _texts(export: ReadAlongExport) -> dict[str, bytes]:
    language = export.book.language or "en"
    texts = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": CONTAINER,
        "OEBPS/package.opf": _package(export, language),
        "OEBPS/nav.xhtml": _nav(export, language),
        "OEBPS/style.css": STYLE,
    }
    for chapter in export.chapters:
        texts[f"OEBPS/{chapter.name}.xhtml"] = _chapter_xhtml(chapter, language)
        texts[f"OEBPS/smil/{chapter.name}.smil"] = _chapter_smil(chapter)
    return {name: text.encode() for name, text in texts.items()}


def readalong_zip_stream(export: ReadAlongExport) -> Iterator[bytes]:
    return zip_stream(export.entries())
