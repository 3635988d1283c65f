"""EPUB 2 and 3: pre-pass, package, navigation, content, chapters."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from .chapters import Entry, plan_chapters
from .covers import MAX_COVER_BYTES
from .errors import ErrorCode, IngestError, shown
from .markup import read_markup
from .navigation import Navigation, TocNode, add_guide, read_nav, read_ncx
from .package import ManifestItem, Package, locate_package, read_package
from .reading import BookReading
from .safety import CheckedArchive, MiB, check_archive, open_zip
from .spool import BlockSpool, Unit
from .types import BookFormat
from .xmlsafe import parse_document, parse_xml

EPUB_MIMETYPE = "application/epub+zip"
# One content document, uncompressed. It is streamed, never held whole, so this only
# keeps an absurd one from costing minutes; real chapters are a few hundred KB.
MAX_DOCUMENT_BYTES = 200 * MiB
# The table of contents is parsed into a tree, so it has a tree's budget.
MAX_NAVIGATION_BYTES = 16 * MiB
# The first spine document is searched for a picture when the package names no cover.
MAX_COVER_PAGE_BYTES = 4 * MiB
_MARKUP_TYPES = ("application/xhtml+xml", "text/html", "application/xml", "text/xml")


def read_epub(path: Path, head: bytes, spool: BlockSpool) -> BookReading:
    with open_zip(path, head) as zf:
        archive = check_archive(zf)
        warnings = _mimetype_warnings(archive)
        package = read_package(archive, locate_package(archive))
        warnings += _missing_item_warnings(package)
        navigation = _navigation(package, archive, warnings)
        _read_units(package, archive, navigation, spool, warnings)
        plan = plan_chapters(spool, _entries(navigation.toc, spool.units))
        if not plan.chapters:
            raise _no_text(package)
        cover, cover_type = _cover(package, archive, warnings)
        warnings += archive.warnings + _clamp_warnings(archive) + plan.warnings
    return BookReading(
        title=package.title,
        authors=package.authors,
        contributors=package.contributors,
        language=package.language or "und",
        format=BookFormat.EPUB,
        plan=plan,
        cover=cover,
        cover_media_type=cover_type,
        warnings=list(dict.fromkeys(warnings)),
    )


def _mimetype_warnings(archive: CheckedArchive) -> list[str]:
    if "mimetype" not in archive.entries:
        return [
            "This EPUB has no “mimetype” file, which every EPUB should have. The rest of the book "
            "is readable, so we read it anyway."
        ]
    value = archive.read("mimetype", 1024).decode("ascii", errors="replace").strip()
    if value != EPUB_MIMETYPE:
        return [
            f"This EPUB's “mimetype” file says “{shown(value, 60)}” instead of “{EPUB_MIMETYPE}”. "
            "The rest of the book is readable, so we read it anyway."
        ]
    return []


def _missing_item_warnings(package: Package) -> list[str]:
    missing = [item.path for item in package.items.values() if item.member is None and item.path]
    if not missing:
        return []
    names = ", ".join(shown(name, 60) for name in missing[:3]) + (", …" if len(missing) > 3 else "")
    return [
        f"{len(missing)} file(s) listed in the book's manifest are not in the EPUB ({names}). They are "
        "not part of the reading order, so the text is complete without them."
    ]


def _clamp_warnings(archive: CheckedArchive) -> list[str]:
    if not archive.clamped:
        return []
    example = shown(sorted(archive.clamped)[0], 60)
    return [
        f"Some links in this book climb above its top folder (for example “{example}”). As the EPUB "
        "standard requires, we read them from inside the book; nothing outside it was opened."
    ]


def _read_document(
    archive: CheckedArchive, spool: BlockSpool, unit: Unit, targets: set[str], warnings: list[str]
) -> None:
    """Stream one content document's blocks into the spool."""
    member = unit.name
    archive.check_size(member, MAX_DOCUMENT_BYTES)
    result = read_markup(
        lambda: archive.stream(member, MAX_DOCUMENT_BYTES), member, spool, unit, targets=targets
    )
    unit.types |= result.info.types
    unit.title = result.info.title
    if result.recovered:
        warnings.append(
            f"{shown(member)} is not well-formed XML; we recovered its text with a forgiving HTML parser."
        )


def _navigation(package: Package, archive: CheckedArchive, warnings: list[str]) -> Navigation:
    navigation = Navigation()
    if package.nav and package.nav.member:
        data = archive.read(package.nav.member, MAX_NAVIGATION_BYTES)
        parsed = parse_document(data, package.nav.member)
        if parsed is not None:
            navigation = read_nav(parsed.root, package.nav.member, archive)
    if not navigation.toc and package.ncx and package.ncx.member:
        data = archive.read(package.ncx.member, MAX_NAVIGATION_BYTES)
        root = parse_xml(data, package.ncx.member, recover=True)
        if root is not None:
            navigation.toc = read_ncx(root, package.ncx.member, archive)
    if not navigation.toc and (package.nav or package.ncx):
        warnings.append("The book's table of contents could not be used, so chapters follow its files.")
    add_guide(navigation, package.guide, package.path, archive)
    return navigation


def _read_units(
    package: Package, archive: CheckedArchive, navigation: Navigation, spool: BlockSpool, warnings: list[str]
) -> None:
    targets: dict[str, set[str]] = {}
    for node in _walk(navigation.toc):
        if node.fragment:
            targets.setdefault(node.path, set()).add(node.fragment)
    for item, linear in package.spine:
        member = item.member or ""
        unit = spool.begin_unit(member, linear=linear, types=navigation.landmarks.get(member, set()))
        if item.member and _is_markup(item):
            _read_document(archive, spool, unit, targets.get(item.member, set()), warnings)
        spool.end_unit(unit)


def _is_markup(item: ManifestItem) -> bool:
    media_type = item.media_type.lower()
    return media_type in _MARKUP_TYPES or (item.member or "").lower().endswith((".xhtml", ".html", ".htm"))


def _walk(nodes: list[TocNode]) -> list[TocNode]:
    found = []
    for node in nodes:
        found.append(node)
        found.extend(_walk(node.children))
    return found


def _entries(nodes: list[TocNode], units: list[Unit]) -> list[Entry]:
    """TOC nodes placed in the text. Entries pointing outside the reading order are
    dropped, but their children still count."""
    index: dict[str, int] = {}
    for position, unit in enumerate(units):
        index.setdefault(unit.name, position)
    return _place(nodes, units, index)


def _place(nodes: list[TocNode], units: list[Unit], index: dict[str, int]) -> list[Entry]:
    entries = []
    for node in nodes:
        children = _place(node.children, units, index)
        found = index.get(node.path)
        if found is None:
            entries.extend(children)
            continue
        unit = units[found]
        position = unit.anchors.get(node.fragment, unit.start) if node.fragment else unit.start
        types = unit.anchor_types.get(node.fragment, set()) if node.fragment else set()
        entries.append(Entry(node.title, found, position, set(types), children))
    return entries


def _no_text(package: Package) -> IngestError:
    if len(package.spine) == 1:
        name = shown(package.spine[0][0].member or package.spine[0][0].href)
        detail = f"its only content document, {name}, is empty or has no text"
    else:
        detail = f"none of its {len(package.spine)} content documents contains any text"
    return IngestError(
        ErrorCode.NO_TEXT,
        f"This book has nothing to read aloud: {detail}.",
    )


def _cover(package: Package, archive: CheckedArchive, warnings: list[str]) -> tuple[bytes | None, str | None]:
    """The declared cover; failing that, the first picture of the first document in the spine."""
    item = package.cover
    member = item.member if item else None
    media_type = item.media_type if item else None
    if member is None:
        member = _first_picture(package, archive)
        media_type = None
    if member is None:
        return None, None
    try:
        return archive.read(member, MAX_COVER_BYTES), media_type
    except IngestError:
        warnings.append(
            f"The cover image is larger than {MAX_COVER_BYTES // MiB} MB, so the book is read without it."
        )
        return None, None


def _first_picture(package: Package, archive: CheckedArchive) -> str | None:
    """The archive member of the first <img> or SVG <image> in the first spine document."""
    if not package.spine:
        return None
    first = package.spine[0][0]
    if first.member is None or not _is_markup(first):
        return None
    try:
        parsed = parse_document(archive.read(first.member, MAX_COVER_PAGE_BYTES), first.member)
    except IngestError:
        return None
    if parsed is None:
        return None
    for element in parsed.root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name not in ("img", "image"):
            continue
        href = element.get("src") if name == "img" else None
        href = href or element.get("href") or element.get("{http://www.w3.org/1999/xlink}href")
        target = archive.resolve(first.member, href) if href else None  # None for URLs and data:
        if target is not None and target[0] != first.member and (found := archive.find(target[0])):
            return found
    return None
