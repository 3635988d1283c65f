"""Stream an (X)HTML document through lxml into the block spool, in bounded pieces.

Strict XML first, as an EPUB's documents are XHTML; when that fails for a real
reason, the forgiving HTML parser reads the document again from the start and what
the first pass stored is rolled back. The bytes are decoded here, not by libxml2:
BOM, declared encoding, strict UTF-8, else a guess, started over when a file that
began as UTF-8 turns out not to be. HTML's named character references become numeric
ones before the XML parser sees them (an XHTML book names a DTD we never load), and
a document that declares entities is refused before any parser reads the declaration.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.entities import html5

from lxml import etree

from .blocks import DocumentInfo, MarkupWalker
from .encoding import guess_encoding
from .spool import BlockSpool, Unit
from .xmlsafe import ENTITY_DECLARATION, refuse_entities, sniff_encoding

ChunkSource = Callable[[], Iterator[bytes]]

# Enough of the start to find a BOM, an XML declaration or a <meta charset>.
HEAD_BYTES = 4096
_NAMED_REFERENCE = re.compile(r"&([A-Za-z][A-Za-z0-9]{0,31});")
_XML_NAMED = frozenset({"amp", "lt", "gt", "quot", "apos"})
# The longest reference we convert, so one cut between two pieces waits for the next.
_REFERENCE_HOLD = 34
# libxml2's "entity not defined": an undeclared name, which the HTML parser reads fine.
_UNDECLARED_ENTITY = (26, 27)


@dataclass
class MarkupResult:
    info: DocumentInfo
    # The strict XML parse failed for a real reason and the HTML parser read it instead.
    recovered: bool = False


class _Redecode(Exception):
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding


def read_markup(
    source: ChunkSource,
    name: str,
    spool: BlockSpool,
    unit: Unit,
    *,
    targets: set[str],
    web_page: bool = False,
) -> MarkupResult:
    """Store the document's blocks in `spool` under `unit`; `source` gives its bytes
    from the start each time it is called."""
    mark = spool.mark()
    encoding: str | None = None
    xml, recovered = True, False
    while True:
        unit.anchors.clear()
        unit.anchor_types.clear()
        walker = MarkupWalker(spool, unit, targets=targets, web_page=web_page, name=name)
        parser = _parser(walker, xml=xml)
        try:
            fed = False
            for text in _decoded(source(), name, encoding):
                parser.feed(text)
                fed = True
            # An empty document has no root: nothing to parse, and nothing to say.
            return MarkupResult(parser.close() if fed else walker.close(), recovered)
        except _Redecode as redo:
            spool.rollback(mark)
            encoding = redo.encoding
        except etree.XMLSyntaxError as error:
            if not xml:  # the HTML parser recovers from anything; this is not expected
                raise
            spool.rollback(mark)
            xml = False
            recovered = any(entry.type not in _UNDECLARED_ENTITY for entry in error.error_log)


def _parser(walker: MarkupWalker, *, xml: bool) -> etree._FeedParser[DocumentInfo]:
    if xml:
        # No tree is built, so lifting libxml2's size limits costs nothing; entities are
        # refused before parsing and never resolved or loaded.
        return etree.XMLParser(
            target=walker, resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True
        )
    return etree.HTMLParser(target=walker, no_network=True, huge_tree=True)


def _decoded(chunks: Iterator[bytes], name: str, encoding: str | None) -> Iterator[str]:
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= HEAD_BYTES:
            break
    if encoding:
        codec, skip, strict = encoding, 0, False
    else:
        codec, skip, strict = sniff_encoding(head)
    decoder = codecs.getincrementaldecoder(codec)("strict" if strict else "replace")
    carried = ""  # a reference cut between two pieces
    scanned_tail = ""  # the end of the last piece, so a declaration cut in two is still seen

    def pieces() -> Iterator[bytes]:
        yield head[skip:]
        yield from chunks

    for raw, final in _with_last(pieces()):
        try:
            text = carried + decoder.decode(raw, final=final)
        except UnicodeDecodeError:
            raise _Redecode(guess_encoding(raw)) from None
        if ENTITY_DECLARATION.search(scanned_tail + text):
            raise refuse_entities(name)
        scanned_tail = text[-16:]
        text, carried = _hold_back_reference(text) if not final else (text, "")
        if text:
            yield _NAMED_REFERENCE.sub(_numeric_reference, text)


def _with_last(items: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    previous: bytes | None = None
    for item in items:
        if previous is not None:
            yield previous, False
        previous = item
    yield previous or b"", True


def _hold_back_reference(text: str) -> tuple[str, str]:
    amp = text.rfind("&", max(0, len(text) - _REFERENCE_HOLD))
    if amp < 0 or ";" in text[amp:]:
        return text, ""
    return text[:amp], text[amp:]


def _numeric_reference(match: re.Match[str]) -> str:
    name = match.group(1)
    characters = None if name in _XML_NAMED else html5.get(f"{name};")
    if characters is None:
        return match.group(0)
    return "".join(f"&#{ord(ch)};" for ch in characters)
