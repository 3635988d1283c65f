"""Find and read an EPUB's package document (the OPF): metadata, manifest, spine, guide.

ebooklib parses the OPF. Every byte it asks for goes through our checked archive
instead of its own ZIP handle, because ebooklib resolves hrefs with a plain
`normpath` (so `../../etc/passwd` is not clamped at the root), reads every item
whole, and raises on a missing item that the book may not even need.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ebooklib import epub
from lxml import etree

from .errors import ErrorCode, IngestError, shown
from .safety import CheckedArchive, MiB
from .xmlsafe import local_name, parse_xml

logger = logging.getLogger(__name__)

CONTAINER_PATH = "META-INF/container.xml"
PACKAGE_MEDIA_TYPE = "application/oebps-package+xml"
OPF_NS = "http://www.idpf.org/2007/opf"
MAX_PACKAGE_BYTES = 8 * MiB
# A title or name longer than this is not metadata but an attack on whatever shows it.
MAX_METADATA_CHARS = 1_000


@dataclass(frozen=True)
class ManifestItem:
    id: str
    href: str  # as written (decoded)
    path: str  # where the href resolves inside the archive, clamped at the root
    member: str | None  # the archive member at `path`; None when absent
    media_type: str


@dataclass
class Package:
    path: str
    title: str
    authors: list[str]
    contributors: list[tuple[str, str]]  # (name, MARC relator code) of creators who are not authors
    language: str
    items: dict[str, ManifestItem]
    spine: list[tuple[ManifestItem, bool]]  # (item, linear)
    nav: ManifestItem | None = None
    ncx: ManifestItem | None = None
    cover: ManifestItem | None = None
    guide: list[tuple[str, str]] = field(default_factory=list)  # (type, href)


def locate_package(archive: CheckedArchive) -> str:
    """The OPF's member name, as META-INF/container.xml gives it. We never guess by
    scanning for *.opf: a book that doesn't say where its package is is broken."""
    container = archive.find(CONTAINER_PATH)
    if container is None:
        raise _no_container(archive)
    root = parse_xml(archive.read(container, MAX_PACKAGE_BYTES), container, recover=True)
    if root is None:
        raise IngestError(
            ErrorCode.BAD_PACKAGE,
            "META-INF/container.xml in this EPUB is not readable XML, so we can't find the book's "
            "contents. Please re-export the book.",
        )
    rootfiles = [el for el in root.iter() if local_name(el) == "rootfile" and el.get("full-path")]
    rootfiles.sort(key=lambda el: el.get("media-type") != PACKAGE_MEDIA_TYPE)
    if not rootfiles:
        raise IngestError(
            ErrorCode.NO_PACKAGE_PATH,
            "META-INF/container.xml in this EPUB doesn't say where the book's package document is "
            "(its <rootfile> has no full-path), so the book can't be opened.",
        )
    full_path = rootfiles[0].get("full-path") or ""
    member = archive.find(archive.resolve_path("", full_path))
    if member is None:
        raise IngestError(
            ErrorCode.MISSING_PACKAGE,
            f"META-INF/container.xml says the book's package document is {shown(full_path)}, but "
            "that file isn't in the EPUB, so the book can't be opened.",
        )
    return member


def _no_container(archive: CheckedArchive) -> IngestError:
    names = archive.entries.keys()
    if "mimetype" in names or any(name.lower().endswith(".opf") for name in names):
        return IngestError(
            ErrorCode.NO_CONTAINER,
            "This EPUB is missing META-INF/container.xml, the file that says where the book's "
            "contents are, so it can't be opened. Please re-export the book.",
        )
    hint = ""
    if "word/document.xml" in names:
        hint = " It looks like a Word document: save it as EPUB, PDF or plain text and upload that."
    return IngestError(
        ErrorCode.NOT_AN_EPUB,
        f"This is a ZIP archive, but not an EPUB: it has no META-INF/container.xml.{hint}",
    )


class _PackageReader(epub.EpubReader):
    """ebooklib's OPF parser, fed from the checked archive.

    It hands us metadata, manifest, spine and guide; it never sees the ZIP. Item
    contents come back empty: we read only what we need, bounded, later.
    """

    def __init__(self, archive: CheckedArchive, opf_path: str) -> None:
        super().__init__(opf_path, {"ignore_ncx": True})
        self._archive = archive
        self._opf_path = opf_path

    def _load(self) -> None:
        # ebooklib would open the ZIP again and pick a rootfile itself; both are done.
        self.opf_file = self._opf_path
        self.opf_dir = posixpath.dirname(self._opf_path)
        self._load_opf_file()

    def read_file(self, name: str) -> bytes:
        if name == self._opf_path:
            return self._archive.read(name, MAX_PACKAGE_BYTES)
        return b""

    # Navigation is read by navigation.py (anchors, landmarks, graceful failure).
    def _parse_nav(self, *args: Any, **kwargs: Any) -> None:
        return None

    def _parse_ncx(self, *args: Any, **kwargs: Any) -> None:
        return None


def read_package(archive: CheckedArchive, opf_path: str) -> Package:
    root = parse_xml(archive.read(opf_path, MAX_PACKAGE_BYTES), opf_path, recover=True)
    _check_structure(root, opf_path)
    try:
        book = _PackageReader(archive, opf_path).load()
        return _package(book, archive, opf_path, root)
    except IngestError:
        raise
    except Exception as exc:  # ebooklib raises whatever a broken file provokes
        logger.info("ebooklib could not read %s: %r", opf_path, exc)
        raise IngestError(
            ErrorCode.BAD_PACKAGE,
            f"This EPUB's package document ({shown(opf_path)}) is malformed, so the book can't be "
            "read. Please re-export the book.",
        ) from exc


def _check_structure(root: etree._Element | None, opf_path: str) -> None:
    if root is None or local_name(root) != "package":
        raise IngestError(
            ErrorCode.BAD_PACKAGE,
            f"This EPUB's package document ({shown(opf_path)}) is not a readable OPF file, so the "
            "book can't be read.",
        )
    sections = {local_name(child): child for child in root}
    if "spine" not in sections or not any(local_name(el) == "itemref" for el in sections["spine"]):
        raise IngestError(
            ErrorCode.NO_SPINE,
            "This EPUB has no reading order (its package document has no <spine>), so we can't tell "
            "which text to read, or in what order.",
        )
    for required in ("metadata", "manifest"):
        if required not in sections:
            raise IngestError(
                ErrorCode.BAD_PACKAGE,
                f"This EPUB's package document has no <{required}> section, so the book can't be read.",
            )


def _package(book: Any, archive: CheckedArchive, opf_path: str, root: etree._Element) -> Package:
    opf_dir = posixpath.dirname(opf_path)
    items: dict[str, ManifestItem] = {}
    nav = ncx = cover = None
    for raw in book.get_items():
        href = raw.file_name or ""
        path = "" if "://" in href else archive.resolve_path(opf_dir, href)
        member = archive.find(path) if path else None
        item = ManifestItem(raw.id or "", href, path, member, raw.media_type or "")
        items[item.id] = item
        if isinstance(raw, epub.EpubNav):
            nav = item
        elif isinstance(raw, epub.EpubNcx):
            ncx = item
        elif isinstance(raw, epub.EpubCover):
            cover = item
    cover = cover or _epub3_cover(root, items) or _epub2_cover(book, items)
    authors, contributors = _creators(book)
    return Package(
        path=opf_path,
        title=_first(_meta(book, "DC", "title")),
        authors=authors,
        contributors=contributors,
        language=_first(_meta(book, "DC", "language"))
        or (root.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip(),
        items=items,
        spine=_spine(book, items),
        nav=nav,
        ncx=ncx,
        cover=cover,
        guide=[(ref.get("type") or "", ref.get("href") or "") for ref in book.guide or []],
    )


def _meta(book: Any, namespace: str, name: str | None) -> list[tuple[str | None, dict[str, str]]]:
    # ebooklib's get_metadata raises KeyError when a namespace has no entries at all.
    values: list[tuple[str | None, dict[str, str]]] = book.metadata.get(epub.NAMESPACES[namespace], {}).get(
        name, []
    )
    return values


def _opf_metas(book: Any) -> list[tuple[str | None, dict[str, str]]]:
    # ebooklib 0.20 files every OPF <meta> under the name "meta" (it compares tags
    # against the namespace without braces); None is where it meant to put them.
    return _meta(book, "OPF", "meta") + _meta(book, "OPF", None)


def _first(values: list[tuple[str | None, dict[str, str]]]) -> str:
    for text, _attrs in values:
        if text and text.strip():
            return " ".join(text.split())[:MAX_METADATA_CHARS]
    return ""


def _creators(book: Any) -> tuple[list[str], list[tuple[str, str]]]:
    """Every dc:creator: (authors, other contributors as (name, role)).

    An author is a creator with the role `aut` among its roles (an EPUB 2 attribute or
    any number of EPUB 3 refinements, in any order), or with no role at all. The rest
    keep their first role, so a page can say "edited by".
    """
    roles: dict[str, list[str]] = {}
    for text, attrs in _opf_metas(book):
        if attrs.get("property") == "role" and attrs.get("refines", "").startswith("#") and text:
            roles.setdefault(attrs["refines"][1:], []).append(text.strip().lower())
    authors: list[str] = []
    contributors: list[tuple[str, str]] = []
    for text, attrs in _meta(book, "DC", "creator"):
        name = " ".join((text or "").split())[:MAX_METADATA_CHARS]
        if not name:
            continue
        own = [(attrs.get(f"{{{OPF_NS}}}role") or "").strip().lower(), *roles.get(attrs.get("id", ""), [])]
        own = [role for role in own if role]
        if not own or "aut" in own:
            if name not in authors:
                authors.append(name)
        elif (name, own[0][:20]) not in contributors:
            contributors.append((name, own[0][:20]))
    return authors, [(name, role) for name, role in contributors if name not in authors]


def _spine(book: Any, items: dict[str, ManifestItem]) -> list[tuple[ManifestItem, bool]]:
    spine = []
    for idref, linear in book.spine:
        if not idref:
            continue
        item = items.get(idref)
        if item is None or item.member is None:
            shown_name = shown((item.path or item.href) if item else idref)
            raise IngestError(
                ErrorCode.MISSING_SPINE_DOCUMENT,
                f"The book's reading order includes “{shown_name}”, but that file isn't in the EPUB, so "
                "part of the text is missing. Please re-export the book.",
            )
        spine.append((item, (linear or "yes").strip().lower() != "no"))
    return spine


def _epub3_cover(root: etree._Element, items: dict[str, ManifestItem]) -> ManifestItem | None:
    """The `cover-image` item of any image type: ebooklib knows only JPEG, PNG and SVG covers."""
    for element in root.iter(f"{{{OPF_NS}}}item"):
        if "cover-image" in (element.get("properties") or "").split():
            item = items.get(element.get("id") or "")
            if item and item.media_type.startswith("image/"):
                return item
    return None


def _epub2_cover(book: Any, items: dict[str, ManifestItem]) -> ManifestItem | None:
    for _text, attrs in _opf_metas(book):
        if attrs.get("name") != "cover":
            continue
        item = items.get(attrs.get("content", ""))
        if item and item.media_type.startswith("image/"):
            return item
    return None
