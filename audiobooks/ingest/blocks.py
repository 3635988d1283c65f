"""What a listener should hear from an (X)HTML document, worked out tag by tag.

`MarkupWalker` is an lxml parser *target*: the parser calls it for every start tag,
end tag and piece of text, and builds no tree, so a 200 MB page or 20,000 nested
tables cost no more memory than a short chapter. Block elements become paragraphs,
`<br>` a line break, and whatever is not read aloud (scripts, note references,
page-break markers, hidden elements, a web page's navigation) is skipped. Nesting
deeper than `FLATTEN_DEPTH` is flattened, its text kept; nesting deeper than
`MAX_NESTING` is refused, as no real document comes near it.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field

from .cleaning import count_words, cut_point
from .errors import ErrorCode, IngestError, shown
from .spool import BlockKind, BlockSpool, Joint, Unit
from .xmlsafe import attribute_types

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
# A web page's chrome: never part of the text. <header> and <footer> are the page's
# banner and footer only outside sectioning content; inside an <article> they hold its
# heading or byline.
CHROME_TAGS = frozenset({"nav", "aside"})
PAGE_CHROME_TAGS = frozenset({"header", "footer"})
SECTIONING_TAGS = frozenset({"article", "aside", "main", "nav", "section"})
# ARIA landmarks other than main. "region" is not here: it only names a section, and
# books use it for chapters.
CHROME_ROLES = frozenset({"banner", "navigation", "contentinfo", "complementary", "search", "form"})
CONTENT_TAGS = frozenset({"main", "article"})
# What a note marker looks like when a book doesn't label it: "1", "[12]", "*", "†", "iv".
_NOTE_MARK = re.compile(r"^[\[(]?\s*(?:\d{1,3}|[*†‡§¶]{1,3}|[ivx]{1,4})\s*[\])]?$", re.IGNORECASE)
# A superscript that can only be a note marker, linked or not: digits or print symbols.
_BARE_NOTE_MARK = re.compile(r"^[\[(]?\s*(?:\d{1,3}|[*†‡§¶#]{1,3})\s*[\])]?$")
_NOTE_HINT = re.compile(r"note|fn|ftn", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LINE_BREAK = "\n"
# Deeper than this, elements no longer open frames: their text is kept, flattened.
FLATTEN_DEPTH = 256
# Deeper than this the document is refused; libxml2 keeps its own stack per level.
MAX_NESTING = 50_000
# Text gathered inside one block before it is stored in pieces.
MAX_BUFFER_CHARS = 64_000


def local_tag(tag: str | None) -> str:
    """Lower-cased tag without its namespace or prefix ("svg:title" from the HTML parser)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


@dataclass
class _Frame:
    tag: str
    block: bool = False
    note: bool = False
    content: bool = False
    sectioning: bool = False
    # <a> and <sup> may turn out to be note markers once their text is known.
    mark_at: int = -1
    flushes: int = 0
    linked: bool = False
    has_sup: bool = False
    hint: bool = False
    # For the document's semantics: an outer section of <body>, and its inner ones.
    outer: bool = False
    inner_count: int = 0
    inner_types: set[str] = field(default_factory=set)


@dataclass
class DocumentInfo:
    """What a document says about itself, beyond its text."""

    title: str = ""
    authors: list[str] = field(default_factory=list)
    language: str = ""
    types: set[str] = field(default_factory=set)
    # Words of a web page's navigation, header and footer, which were not read.
    chrome_words: int = 0


class MarkupWalker:
    """An lxml parser target that stores a document's blocks in the spool."""

    def __init__(
        self, spool: BlockSpool, unit: Unit, *, targets: set[str], web_page: bool, name: str
    ) -> None:
        self.spool = spool
        self.unit = unit
        self.targets = targets
        self.web_page = web_page
        self.name = name
        self.info = DocumentInfo()
        self.frames: list[_Frame] = []
        self.depth = 0
        self.skip = 0  # > 0 inside an element that is not read
        self.in_head = False
        self.in_chrome = False
        self.in_title = False
        self.title_parts: list[str] = []
        self.buffer: list[str] = []
        self.buffered = 0
        self.flushes = 0
        self.joint = Joint.PARAGRAPH
        self.heading_level = 0
        self.note_depth = 0
        self.content_depth = 0
        self.sectioning_depth = 0
        self.body_depth = 0
        self.outer_seen = 0
        self.content_blocks = 0
        self.outside = array("I")

    # --- parser target interface ----------------------------------------------------------

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise IngestError(
                ErrorCode.TOO_DEEP,
                f"{shown(self.name)} nests its markup more than {MAX_NESTING:,} levels deep, far beyond "
                "any real book, so we stopped reading it.",
            )
        name = local_tag(tag)
        if self.skip:
            self.skip += 1
            self._head_start(name, attrib)
            return
        types = attribute_types(attrib)
        anchor = attrib.get("id") or (attrib.get("name") if name == "a" else None)
        if anchor and anchor in self.targets and anchor not in self.unit.anchors:
            self.flush()
            self.unit.anchors[anchor] = len(self.spool)
            self.unit.anchor_types[anchor] = types
        if self._skipped(name, attrib, types):
            self.skip = 1
            self.in_head = name == "head"
            self.in_chrome = self.web_page and self._is_chrome(name, attrib)
            return
        if self.depth > FLATTEN_DEPTH:
            if name in BLOCK_TAGS:
                self.flush()
            elif name == "br":
                self.buffer.append(LINE_BREAK)
            return
        self._open(name, attrib, types)

    def end(self, tag: str) -> None:
        depth = self.depth
        self.depth -= 1
        if self.skip:
            self.skip -= 1
            self.in_title = self.in_title and self.skip > 1
            self.in_head = self.in_head and self.skip > 0
            self.in_chrome = self.in_chrome and self.skip > 0
            return
        if depth > FLATTEN_DEPTH:
            if local_tag(tag) in BLOCK_TAGS:
                self.flush()
            return
        self._close(self.frames.pop())

    def data(self, text: str) -> None:
        if self.skip:
            if self.in_title:
                self.title_parts.append(text)
            elif self.in_chrome:
                self.info.chrome_words += count_words(text)
            return
        self.buffer.append(_SPACE.sub(" ", text))
        self.buffered += len(text)
        if self.buffered > MAX_BUFFER_CHARS:
            self._store_most()

    def close(self) -> DocumentInfo:
        self.flush()
        if self.web_page and self.content_blocks:
            for index in self.outside:
                self.spool.set_kind(index, BlockKind.HIDDEN)
        self.info.title = " ".join("".join(self.title_parts).split())
        return self.info

    # --- elements -------------------------------------------------------------------------

    def _skipped(self, name: str, attrib: Mapping[str, str], types: set[str]) -> bool:
        if name in SKIP_TAGS or types & SKIP_TYPES:
            return True
        if attrib.get("hidden") is not None or attrib.get("aria-hidden") == "true":
            return True
        return self.web_page and self._is_chrome(name, attrib)

    def _is_chrome(self, name: str, attrib: Mapping[str, str]) -> bool:
        if name in CHROME_TAGS or (name in PAGE_CHROME_TAGS and not self.sectioning_depth):
            return True
        return bool(set((attrib.get("role") or "").lower().split()) & CHROME_ROLES)

    def _open(self, name: str, attrib: Mapping[str, str], types: set[str]) -> None:
        parent = self.frames[-1] if self.frames else None
        frame = _Frame(
            tag=name,
            block=name in BLOCK_TAGS,
            note=bool(types & NOTE_TYPES) or _has_note_class(attrib),
            sectioning=name in SECTIONING_TAGS,
        )
        if self.web_page and (name in CONTENT_TAGS or {"main", "article"} & types):
            frame.content = True
            self.content_depth += 1
        if frame.block or frame.note:
            self.flush()
        if name in HEADING_TAGS:
            self.heading_level = HEADING_TAGS[name]
        if frame.note:
            self.note_depth += 1
        if frame.sectioning:
            self.sectioning_depth += 1
        if name in ("a", "sup"):
            frame.mark_at, frame.flushes = len(self.buffer), self.flushes
            frame.linked = name == "a" and "#" in (attrib.get("href") or "")
            frame.hint = bool(
                _NOTE_HINT.search(" ".join(filter(None, (attrib.get("class"), attrib.get("id")))))
            )
            if parent is not None and name == "sup" and parent.tag == "a":
                parent.has_sup = True
            if parent is not None and frame.linked and parent.tag == "sup":
                parent.linked = True
        elif name == "br":
            self.buffer.append(LINE_BREAK)
        self._note_document_semantics(name, attrib, types, frame, parent)
        self.frames.append(frame)

    def _close(self, frame: _Frame) -> None:
        if frame.mark_at >= 0 and frame.flushes == self.flushes and self._is_note_mark(frame):
            del self.buffer[frame.mark_at :]
        if frame.block or frame.note:
            self.flush()
        if frame.note:
            self.note_depth -= 1
        if frame.content:
            self.content_depth -= 1
        if frame.sectioning:
            self.sectioning_depth -= 1
        if frame.outer and frame.inner_count == 1:
            self.info.types |= frame.inner_types

    def _is_note_mark(self, frame: _Frame) -> bool:
        """A footnote reference: a superscript of digits or print marks, or a short
        numeric link into the book that is superscripted or named like one."""
        text = "".join(self.buffer[frame.mark_at :]).strip()
        if frame.tag == "sup":
            return bool(_BARE_NOTE_MARK.match(text)) or (frame.linked and bool(_NOTE_MARK.match(text)))
        if not (frame.linked and _NOTE_MARK.match(text)):
            return False
        parent = self.frames[-1] if self.frames else None
        return (parent is not None and parent.tag == "sup") or frame.has_sup or frame.hint

    def _note_document_semantics(
        self, name: str, attrib: Mapping[str, str], types: set[str], frame: _Frame, parent: _Frame | None
    ) -> None:
        """The document's own semantics: the body's, and those of its outer sections
        (Standard Ebooks puts `titlepage` on a <section> inside a `frontmatter` body)."""
        if name == "body" and not self.body_depth:
            self.body_depth = self.depth
            self.info.types |= types
            self._language(attrib)
        elif name == "html":
            self._language(attrib)
        if not self.body_depth:
            return
        if self.depth == self.body_depth + 1 and name in ("section", "article", "div", "nav", "aside"):
            if self.outer_seen < 3:
                self.info.types |= types
                frame.outer = True
            self.outer_seen += 1
        elif parent is not None and parent.outer and name in ("section", "article", "div"):
            parent.inner_count += 1
            if parent.inner_count == 1:
                parent.inner_types = types

    def _head_start(self, name: str, attrib: Mapping[str, str]) -> None:
        if not self.in_head:
            return
        if name == "title" and self.skip == 2 and not self.title_parts:
            self.in_title = True
        elif name == "meta":
            content = " ".join((attrib.get("content") or "").split())
            if (attrib.get("name") or "").lower() == "author" and content:
                self.info.authors.append(content)
            elif (attrib.get("http-equiv") or "").lower() == "content-language" and content:
                self.info.language = self.info.language or content.split(",")[0].strip()

    def _language(self, attrib: Mapping[str, str]) -> None:
        lang = (attrib.get("lang") or attrib.get(_XML_LANG) or attrib.get("xml:lang") or "").strip()
        if lang and not self.info.language:
            self.info.language = lang

    # --- text -----------------------------------------------------------------------------

    def flush(self) -> None:
        text = "".join(self.buffer)
        self.buffer = []
        self.buffered = 0
        level, self.heading_level = self.heading_level, 0
        joint, self.joint = self.joint, Joint.PARAGRAPH
        if text.strip():
            self._store(text, level, joint)

    def _store_most(self) -> None:
        """Store a long run of text without a block boundary, up to its last sentence;
        the rest waits for more."""
        text = "".join(self.buffer)
        end, start = _last_sentence_cut(text)
        if end <= 0:
            return
        self._store(text[:end], self.heading_level, self.joint)
        gap = text[end:start]
        self.joint = Joint.GLUED if not gap else Joint.SPACE
        self.buffer = [text[start:]]
        self.buffered = len(self.buffer[0])

    def _store(self, text: str, level: int, joint: Joint) -> None:
        kind = BlockKind.NOTE if self.note_depth else BlockKind.HEADING if level else BlockKind.TEXT
        before = len(self.spool)
        stored = self.spool.add(text, kind, level, joint=joint)
        self.flushes += 1
        if not stored or not self.web_page:
            return
        if self.content_depth:
            self.content_blocks += stored
        else:
            self.outside.extend(range(before, before + stored))


def _last_sentence_cut(text: str) -> tuple[int, int]:
    return cut_point(text, len(text) - 1)


def _has_note_class(attrib: Mapping[str, str]) -> bool:
    classes = (attrib.get("class") or "").lower().split()
    return any(name in NOTE_CLASSES for name in classes)
