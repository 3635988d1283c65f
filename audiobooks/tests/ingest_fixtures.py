"""Builders for small EPUB, PDF, TXT and HTML inputs, made inside the tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

XHTML_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'
XHTML_OPEN = '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


def xhtml(body: str, *, title: str = "", body_attrs: str = "") -> str:
    head = f"<head><title>{title}</title></head>" if title else "<head><title/></head>"
    return f"{XHTML_HEAD}{XHTML_OPEN}{head}<body{body_attrs}>{body}</body></html>"


def paragraphs(count: int, words: int = 12, prefix: str = "Word") -> str:
    """`count` <p> elements of `words` distinct-ish words each."""
    return "".join("<p>" + " ".join(f"{prefix}{n}x{w}" for w in range(words)) + ".</p>" for n in range(count))


@dataclass
class EpubSpec:
    """A minimal EPUB 3: documents in spine order, plus whatever else a test needs."""

    documents: Sequence[tuple[str, str]]  # (href under OEBPS/, xhtml)
    nav: str | None = None  # <nav> markup; None for no nav document
    ncx: str | None = None  # <navMap> markup; None for no NCX
    title: str = "Test Book"
    language: str = "en"
    metadata_extra: str = ""
    manifest_extra: str = ""
    guide: str = ""
    linear: Mapping[str, str] = field(default_factory=dict)  # href -> "no"
    extra_files: Mapping[str, bytes | str] = field(default_factory=dict)
    mimetype: bytes | None = b"application/epub+zip"

    def opf(self) -> str:
        items, refs = [], []
        for index, (href, _) in enumerate(self.documents):
            items.append(f'<item id="d{index}" href="{href}" media-type="application/xhtml+xml"/>')
            linear = f' linear="{self.linear[href]}"' if href in self.linear else ""
            refs.append(f'<itemref idref="d{index}"{linear}/>')
        if self.nav is not None:
            items.append(
                '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
            )
        toc_attr = ""
        if self.ncx is not None:
            items.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
            toc_attr = ' toc="ncx"'
        guide = f"<guide>{self.guide}</guide>" if self.guide else ""
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:identifier id="id">x</dc:identifier><dc:title>{self.title}</dc:title>'
            f"<dc:language>{self.language}</dc:language>{self.metadata_extra}</metadata>"
            f"<manifest>{''.join(items)}{self.manifest_extra}</manifest>"
            f"<spine{toc_attr}>{''.join(refs)}</spine>{guide}</package>"
        )

    def files(self) -> dict[str, bytes | str]:
        files: dict[str, bytes | str] = {"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": self.opf()}
        for href, markup in self.documents:
            files[f"OEBPS/{href}"] = markup
        if self.nav is not None:
            files["OEBPS/nav.xhtml"] = xhtml(self.nav)
        if self.ncx is not None:
            files["OEBPS/toc.ncx"] = (
                '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
                f"<head/><docTitle><text>{self.title}</text></docTitle><navMap>{self.ncx}</navMap></ncx>"
            )
        files.update(self.extra_files)
        return files

    def build(self) -> bytes:
        return zip_bytes(self.files(), mimetype=self.mimetype)

    def write(self, directory: Path, name: str = "book.epub") -> Path:
        path = directory / name
        path.write_bytes(self.build())
        return path


def picture(
    fmt: str, size: tuple[int, int], colour: str | int | tuple[int, ...] = "teal", mode: str = "RGB"
) -> bytes:
    """A real image of one colour in `fmt` (JPEG, PNG, GIF, WEBP), made with Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, fmt)
    return buffer.getvalue()


def zip_bytes(files: Mapping[str, bytes | str], *, mimetype: bytes | None = b"application/epub+zip") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype is not None:
            archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            archive.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return buffer.getvalue()


NavRow = tuple[str, str] | tuple[str, str, Sequence["NavRow"]]


def nav_list(entries: Sequence[NavRow]) -> str:
    """A nav TOC from (title, href[, children]) tuples, nested as deep as needed."""

    def items(rows: Sequence[NavRow]) -> str:
        out = []
        for row in rows:
            children = f"<ol>{items(row[2])}</ol>" if len(row) == 3 and row[2] else ""
            out.append(f'<li><a href="{row[1]}">{row[0]}</a>{children}</li>')
        return "".join(out)

    return f'<nav epub:type="toc"><ol>{items(entries)}</ol></nav>'


def write_text(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


@dataclass
class PdfPage:
    lines: Sequence[str]
    bookmark: str | None = None  # an outline entry pointing into this page...
    bookmark_line: int = 0  # ...at this line


def make_pdf(
    pages: Sequence[PdfPage],
    *,
    header: str | None = None,
    page_numbers: bool = False,
    title: str | None = None,
    author: str | None = None,
    user_password: str | None = None,
) -> bytes:
    """A text PDF made with fpdf2: optional running header, page-number footer, outline,
    and encryption (an empty user password locks editing only)."""
    from fpdf import FPDF

    class Book(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("helvetica", size=9)
                self.cell(0, 8, header, align="C", new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            if page_numbers:
                self.set_y(-15)
                self.set_font("helvetica", size=9)
                self.cell(0, 8, str(self.page_no()), align="C")

    pdf = Book()
    pdf.set_auto_page_break(auto=False)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    for page in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        for index, line in enumerate(page.lines):
            if page.bookmark and index == page.bookmark_line:
                pdf.start_section(page.bookmark)
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_image_pdf() -> bytes:
    """A PDF whose only page is a drawing: no text layer at all."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(120, 120, 120)
    for row in range(20):
        pdf.rect(20, 20 + row * 12, 170, 8, style="F")
    return bytes(pdf.output())


STORY_SENTENCES = (
    "The lighthouse keeper climbed the stairs at dusk.",
    "Far below, the sea moved slowly against the rocks.",
    "She lit the lamp and watched the beam sweep the water.",
    "A small boat was making for the harbour.",
    "By morning the storm had passed, and the village was quiet again.",
)


def story_epub(directory: Path, *, titles: Sequence[str], paragraphs_per_chapter: int = 2,
               name: str = "story.epub", title: str = "The Lighthouse",
               cover: tuple[str, bytes, str] | None = None, metadata_extra: str = "") -> Path:  # fmt: skip
    """A small EPUB of real English prose: one chapter per title, each a few spoken sentences."""
    documents = []
    for number, heading in enumerate(titles, start=1):
        body = "".join(
            "<p>"
            + " ".join(STORY_SENTENCES[(number + p + s) % len(STORY_SENTENCES)] for s in range(3))
            + "</p>"
            for p in range(paragraphs_per_chapter)
        )
        documents.append((f"c{number}.xhtml", xhtml(f"<h1>{heading}</h1>{body}", title=heading)))
    nav = nav_list([(heading, f"c{number}.xhtml") for number, heading in enumerate(titles, start=1)])
    manifest, files = "", {}
    if cover is not None:  # (href under OEBPS/, bytes, media type), declared as the EPUB 3 cover-image
        href, data, media_type = cover
        manifest = f'<item id="cover" href="{href}" media-type="{media_type}" properties="cover-image"/>'
        files = {f"OEBPS/{href}": data}
    return EpubSpec(
        documents=documents, nav=nav, title=title, manifest_extra=manifest, extra_files=files,
        metadata_extra=metadata_extra,
    ).write(directory, name)  # fmt: skip
