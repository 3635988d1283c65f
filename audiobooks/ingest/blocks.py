"""Turn a parsed (X)HTML document into the paragraphs a listener should hear.

One pass over the tree, without recursion (hostile nesting can't blow the stack):
block elements become paragraphs, `<br>` a line break, and whatever is not read
aloud (scripts, note references, page-break markers, hidden elements) is skipped.
Note sections are kept apart so a chapter can leave them out but a notes-only
document is still there to choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from html.entities import html5

from lxml import etree

from .xmlsafe import epub_types, local_name

BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "legend", "li", "main", "nav", "ol", "p",
        "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Never read aloud: code, styling, media fallbacks, ruby readings (the base text is read).
SKIP_TAGS = frozenset(
    {
        "head", "script", "style", "template", "noscript", "svg", "math", "iframe", "object",
        "embed", "video", "audio", "canvas", "rt", "rp", "select", "textarea", "button", "input",
    }
)  # fmt: skip
SKIP_TYPES = frozenset({"noteref", "doc-noteref", "pagebreak", "doc-pagebreak"})
NOTE_TYPES = frozenset(
    {
        "footnotes", "endnotes", "rearnotes", "footnote", "endnote", "rearnote", "note",
        "doc-footnote", "doc-endnotes", "doc-endnote",
    }
)  # fmt: skip
NOTE_CLASSES = frozenset({"footnote", "footnotes", "endnote", "endnotes"})
# What a note marker looks like when a book doesn't label it: "1", "[12]", "*", "†", "iv".
_NOTE_MARK = re.compile(r"^[\[(]?\s*(?:\d{1,3}|[*†‡§¶]{1,3}|[ivx]{1,4})\s*[\])]?$", re.IGNORECASE)
_NOTE_HINT = re.compile(r"note|fn|ftn", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
LINE_BREAK = "\n"


class BlockKind(StrEnum):
    TEXT = "text"
    HEADING = "heading"
    NOTE = "note"


@dataclass(frozen=True)
class Block:
    text: str
    kind: BlockKind
    level: int = 0  # 1-6 for headings


@dataclass
class DocumentText:
    blocks: list[Block] = field(default_factory=list)
    # For each requested anchor id: the index of the first block at or after it.
    anchors: dict[str, int] = field(default_factory=dict)
    anchor_types: dict[str, set[str]] = field(default_factory=dict)
    # Semantics of the document as a whole (body and its outer sections).
    types: set[str] = field(default_factory=set)
    title: str = ""

    @property
    def first_heading(self) -> str:
        for block in self.blocks[:8]:
            if block.kind is BlockKind.HEADING:
                return block.text.replace(LINE_BREAK, " ")
        return ""


@dataclass
class _Frame:
    block: bool
    note: bool


class _Walker:
    def __init__(self, targets: set[str]) -> None:
        self.targets = targets
        self.doc = DocumentText()
        self.buffer: list[str] = []
        self.heading_level = 0
        self.note_depth = 0
        self.frames: list[_Frame] = []

    def add_text(self, text: str | None) -> None:
        if text:
            self.buffer.append(_SPACE.sub(" ", text))

    def flush(self) -> None:
        text = "".join(self.buffer)
        self.buffer = []
        text = LINE_BREAK.join(line.strip() for line in text.split(LINE_BREAK)).strip()
        level, self.heading_level = self.heading_level, 0
        if not text:
            return
        if self.note_depth:
            kind = BlockKind.NOTE
        elif level:
            kind = BlockKind.HEADING
        else:
            kind = BlockKind.TEXT
        self.doc.blocks.append(Block(text, kind, level))

    def start(self, element: etree._Element, walker: etree.iterwalk) -> None:
        tag = local_name(element)
        types = epub_types(element) if tag else set()
        anchor = element.get("id") or (element.get("name") if tag == "a" else None)
        if anchor and anchor in self.targets and anchor not in self.doc.anchors:
            self.flush()
            self.doc.anchors[anchor] = len(self.doc.blocks)
            self.doc.anchor_types[anchor] = types
        if not tag or _skipped(element, tag, types):
            self.frames.append(_Frame(block=False, note=False))
            walker.skip_subtree()
            return
        block = tag in BLOCK_TAGS
        note = bool(types & NOTE_TYPES) or _has_note_class(element)
        if block or note:
            self.flush()
        if tag in HEADING_TAGS:
            self.heading_level = HEADING_TAGS[tag]
        if note:
            self.note_depth += 1
        self.frames.append(_Frame(block=block, note=note))
        if tag == "br":
            self.buffer.append(LINE_BREAK)
        self.add_text(element.text)

    def end(self, element: etree._Element) -> None:
        frame = self.frames.pop()
        if frame.block or frame.note:
            self.flush()
        if frame.note:
            self.note_depth -= 1
        self.add_text(element.tail)


def _skipped(element: etree._Element, tag: str, types: set[str]) -> bool:
    if tag in SKIP_TAGS or types & SKIP_TYPES:
        return True
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    return _looks_like_note_mark(element, tag)


def _looks_like_note_mark(element: etree._Element, tag: str) -> bool:
    """An unlabelled footnote reference: a short numeric link, superscripted or named so."""
    if tag not in ("a", "sup"):
        return False
    text = "".join(element.itertext()).strip()
    if not _NOTE_MARK.match(text):
        return False
    links = [element] if tag == "a" else list(element.iter("{*}a", "a"))
    if not any("#" in (link.get("href") or "") for link in links):
        return False
    if tag == "sup":
        return True
    parent = element.getparent()
    hint = " ".join(filter(None, (element.get("class"), element.get("id"))))
    return (
        (parent is not None and local_name(parent) == "sup")
        or any(local_name(child) == "sup" for child in element)
        or bool(_NOTE_HINT.search(hint))
    )


def _has_note_class(element: etree._Element) -> bool:
    classes = (element.get("class") or "").lower().split()
    return any(name in NOTE_CLASSES for name in classes)


def extract_blocks(root: etree._Element, targets: set[str] | None = None) -> DocumentText:
    """The paragraphs of a document, with the block index where each target id starts."""
    _expand_html_entities(root)
    # iterwalk does not visit comments, processing instructions or entity references, so
    # their tails would be lost; stripping them merges that text back into its parent.
    etree.strip_tags(root, etree.Comment, etree.ProcessingInstruction, etree.Entity)
    body = _find_body(root)
    walker = _Walker(targets or set())
    events = etree.iterwalk(body, events=("start", "end"))
    for event, element in events:
        if event == "start":
            walker.start(element, events)
        else:
            walker.end(element)
    walker.flush()
    walker.doc.types = document_types(body)
    walker.doc.title = _document_title(root)
    return walker.doc


def _expand_html_entities(root: etree._Element) -> None:
    """Replace references like `&nbsp;` with their characters.

    An XHTML 1.1 book names its DTD, which we never load, so libxml2 leaves such
    references unresolved instead of failing. They can only be HTML's own named
    characters: a document that declares entities was refused before parsing.
    """
    for reference in root.iter(etree.Entity):
        character = html5.get(f"{reference.name};", "")
        reference.tail = character + (reference.tail or "")


def _find_body(root: etree._Element) -> etree._Element:
    for element in root.iter("{*}body", "body"):
        return element
    return root


def document_types(body: etree._Element) -> set[str]:
    """What the document is: the body's semantics and those of its outer sections
    (Standard Ebooks puts `titlepage` on a `<section>` inside a `frontmatter` body)."""
    types = set(epub_types(body))
    outer = [child for child in body if local_name(child) in ("section", "article", "div", "nav", "aside")]
    for child in outer[:3]:
        types |= epub_types(child)
        inner = [el for el in child if local_name(el) in ("section", "article", "div")]
        if len(inner) == 1:
            types |= epub_types(inner[0])
    return types


def _document_title(root: etree._Element) -> str:
    for element in root.iter("{*}title", "title"):
        parent = element.getparent()
        if parent is not None and local_name(parent) == "head":
            return _SPACE.sub(" ", "".join(element.itertext())).strip()
    return ""
