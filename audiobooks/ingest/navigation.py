"""Read an EPUB's table of contents (EPUB 3 nav or EPUB 2 NCX) and its landmarks.

We parse these ourselves instead of taking ebooklib's: we need anchors, nesting,
link-less headings and landmarks, and a broken TOC must degrade to the spine order
rather than fail the book.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .safety import CheckedArchive
from .xmlsafe import epub_types, local_name

NCX_NS = "http://www.daisy.org/z3986/2005/ncx/"


@dataclass
class TocNode:
    title: str
    path: str  # archive member the entry points into
    fragment: str = ""
    children: list[TocNode] = field(default_factory=list)


@dataclass
class Navigation:
    toc: list[TocNode] = field(default_factory=list)
    # Archive member -> semantics given to it by landmarks (EPUB 3) or the guide (EPUB 2).
    landmarks: dict[str, set[str]] = field(default_factory=dict)


def _text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if local_name(child) == name]


def read_nav(root: etree._Element, nav_path: str, archive: CheckedArchive) -> Navigation:
    navigation = Navigation()
    for nav in root.iter("{*}nav", "nav"):
        types = epub_types(nav)
        lists = list(nav.iter("{*}ol", "ol", "{*}ul", "ul"))
        if not lists:
            continue
        if ("toc" in types or "doc-toc" in types) and not navigation.toc:
            navigation.toc = _nav_list(lists[0], nav_path, archive)
        elif "landmarks" in types:
            for link in lists[0].iter("{*}a", "a"):
                target = _target(archive, nav_path, link.get("href"))
                if target:
                    navigation.landmarks.setdefault(target[0], set()).update(epub_types(link))
    return navigation


def _nav_list(list_element: etree._Element, nav_path: str, archive: CheckedArchive) -> list[TocNode]:
    nodes = []
    for item in _children(list_element, "li"):
        label = next((el for el in item if local_name(el) in ("a", "span")), None)
        sublist = next((el for el in item if local_name(el) in ("ol", "ul")), None)
        children = _nav_list(sublist, nav_path, archive) if sublist is not None else []
        title = _text(label) if label is not None else ""
        if label is not None and not title:
            title = (label.get("title") or "").strip()
        href = label.get("href") if label is not None and local_name(label) == "a" else None
        node = _node(archive, nav_path, title, href, children)
        if node:
            nodes.append(node)
    return nodes


def _node(
    archive: CheckedArchive, referrer: str, title: str, href: str | None, children: list[TocNode]
) -> TocNode | None:
    target = _target(archive, referrer, href)
    if target:
        return TocNode(title, target[0], target[1], children)
    if children:
        # A heading without a link ("Part One" as a <span>) starts where its first child does.
        return TocNode(title, children[0].path, children[0].fragment, children)
    return None


def _target(archive: CheckedArchive, referrer: str, href: str | None) -> tuple[str, str] | None:
    if not href:
        return None
    resolved = archive.resolve(referrer, href)
    if resolved is None:
        return None
    member = archive.find(resolved[0])
    return (member, resolved[1]) if member else None


def read_ncx(root: etree._Element, ncx_path: str, archive: CheckedArchive) -> list[TocNode]:
    nav_map = next(root.iter(f"{{{NCX_NS}}}navMap", "navMap"), None)
    return _ncx_points(nav_map, ncx_path, archive) if nav_map is not None else []


def _ncx_points(parent: etree._Element, ncx_path: str, archive: CheckedArchive) -> list[TocNode]:
    nodes = []
    for point in _children(parent, "navpoint"):
        label = next((el for el in point if local_name(el) == "navlabel"), None)
        content = next((el for el in point if local_name(el) == "content"), None)
        title = _text(label) if label is not None else ""
        href = content.get("src") if content is not None else None
        node = _node(archive, ncx_path, title, href, _ncx_points(point, ncx_path, archive))
        if node:
            nodes.append(node)
    return nodes


# EPUB 2 guide reference types, mapped to the EPUB 3 vocabulary chapters.py knows.
GUIDE_TYPES = {
    "cover": "cover",
    "title-page": "titlepage",
    "toc": "toc",
    "copyright-page": "copyright-page",
    "index": "index",
    "colophon": "colophon",
    "loi": "loi",
    "lot": "lot",
}


def add_guide(
    navigation: Navigation, guide: list[tuple[str, str]], opf_path: str, archive: CheckedArchive
) -> None:
    """Fold the OPF guide (type, href) into the landmarks; nav landmarks win on conflict."""
    for kind, href in guide:
        mapped = GUIDE_TYPES.get(kind.strip().lower())
        target = _target(archive, opf_path, href) if mapped else None
        if mapped and target and target[0] not in navigation.landmarks:
            navigation.landmarks[target[0]] = {mapped}
