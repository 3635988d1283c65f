"""Parsing markup we did not write, with lxml on safe settings.

Every parser here refuses to expand entities, load DTDs or touch the network. A
document whose DOCTYPE declares entities is refused outright, *before* any forgiving
parser sees it, so the recovery that rescues sloppy books can never be used to smuggle
an XXE or a billion-laughs bomb past the strict parser.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

import lxml.html
from lxml import etree

from .encoding import guess_decode
from .errors import ErrorCode, IngestError, shown

XHTML_NS = "http://www.w3.org/1999/xhtml"
OPS_NS = "http://www.idpf.org/2007/ops"

# Where an XML declaration or a <meta charset> must be to count.
DECLARATION_BYTES = 2048
ENTITY_DECLARATION = re.compile(r"<!ENTITY", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# libxml2's "entity not defined": what a DTD-less parse of an XHTML 1.1 book using &nbsp; reports.
_UNDECLARED_ENTITY = 26


def _parser(*, recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=recover,
    )


def _strict_parser() -> etree.XMLParser:
    return _parser(recover=False)


def _recovering_parser() -> etree.XMLParser:
    return _parser(recover=True)


def refuse_entities(name: str) -> IngestError:
    return IngestError(
        ErrorCode.ENTITY_DECLARATION,
        f"This book contains XML entity declarations (in {shown(name)}). They can be used to attack "
        "the software that reads the book, so we don't open files that have them.",
    )


def declares_entities(data: bytes) -> bool:
    """True when the bytes, decoded the way an XML parser would, contain `<!ENTITY`.

    The markup of ASCII-compatible encodings reads the same in Latin-1, so only the
    UTF-16/32 families need decoding first.
    """
    return ENTITY_DECLARATION.search(_decode_for_scan(data)) is not None


def _decode_for_scan(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    return data.decode(_utf16_or_32_without_bom(data) or "latin-1", errors="replace")


def _utf16_or_32_without_bom(data: bytes) -> str | None:
    """The wide encoding of markup that starts without a BOM: its first `<` gives it away."""
    if data[:4] in (b"<\x00?\x00", b"<\x00!\x00", b"<\x00\x00\x00"):
        return "utf-32-le" if data[2:4] == b"\x00\x00" else "utf-16-le"
    if data[:4] in (b"\x00<\x00?", b"\x00<\x00!", b"\x00\x00\x00<"):
        return "utf-32-be" if data[:2] == b"\x00\x00" else "utf-16-be"
    return None


def _has_internal_entities(root: etree._Element) -> bool:
    dtd = root.getroottree().docinfo.internalDTD
    return dtd is not None and any(True for _ in dtd.iterentities())


def parse_xml(data: bytes, name: str, *, recover: bool = False) -> etree._Element | None:
    """Parse a package-level XML file (container, OPF, NCX, encryption.xml).

    Returns None when the bytes are not well-formed and `recover` is off, or when
    even recovery finds no root element.
    """
    if declares_entities(data):
        raise refuse_entities(name)
    try:
        root = etree.fromstring(data, _strict_parser())
    except etree.XMLSyntaxError:
        if not recover:
            return None
        try:
            root = etree.fromstring(data, _recovering_parser())
        except etree.XMLSyntaxError:
            return None
    if root is None:
        return None
    if _has_internal_entities(root):
        raise refuse_entities(name)
    return root


@dataclass(frozen=True)
class ParsedDocument:
    root: etree._Element
    # True when the strict XML parse failed for a real reason and the HTML parser
    # rebuilt the tree; the caller turns that into a warning.
    recovered: bool


def parse_document(data: bytes, name: str) -> ParsedDocument | None:
    """Parse a content document (XHTML in an EPUB, or an HTML upload).

    Strict XML first; if that fails, the forgiving HTML parser, but only after the
    entity check has run on the fully decoded text. None for a document with no markup
    at all (empty, or not text).
    """
    if not data.strip():
        return None
    if declares_entities(data):
        raise refuse_entities(name)
    try:
        root = etree.fromstring(data, _strict_parser())
    except etree.XMLSyntaxError as exc:
        real_errors = [e for e in exc.error_log if e.type != _UNDECLARED_ENTITY]
        fallback = _parse_html(data, name)
        if fallback is None:
            return None
        return ParsedDocument(fallback, recovered=bool(real_errors))
    if _has_internal_entities(root):
        raise refuse_entities(name)
    return ParsedDocument(root, recovered=False)


def _parse_html(data: bytes, name: str) -> etree._Element | None:
    text = decode_markup(data)
    # The scan above saw the bytes; this one sees exactly what the HTML parser will see.
    if ENTITY_DECLARATION.search(text):
        raise refuse_entities(name)
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None


def decode_markup(data: bytes) -> str:
    """Decode HTML/XML bytes: BOM, then the declared encoding, then UTF-8, then a guess."""
    codec, skip, strict = sniff_encoding(data[:DECLARATION_BYTES])
    if strict:
        return guess_decode(data)
    return data[skip:].decode(codec, errors="replace")


def sniff_encoding(head: bytes) -> tuple[str, int, bool]:
    """(codec, bytes of BOM to skip, strict) from a document's first bytes: its BOM, else
    UTF-16/32 by its NULs, else what it declares, else UTF-8, strictly, so that a legacy
    file shows itself and can be guessed."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom), False
    wide = _utf16_or_32_without_bom(head)
    if wide:
        return wide, 0, False
    declared = head[:DECLARATION_BYTES]
    for pattern in (_XML_DECL_ENCODING, _META_CHARSET):
        match = pattern.search(declared)
        codec = _known_codec(match.group(1).decode("ascii")) if match else None
        if codec:
            return codec, 0, False
    return "utf-8", 0, True


def _known_codec(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def local_name(element: etree._Element) -> str:
    """Tag without namespace, lower-cased; "" for comments and other non-elements."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def epub_types(element: etree._Element) -> set[str]:
    """The `epub:type` tokens of an element, plus its DPUB-ARIA `role` tokens."""
    return attribute_types(element.attrib)


def attribute_types(attrib: Mapping[str, str]) -> set[str]:
    """`epub:type` and DPUB-ARIA `role` tokens from an element's attributes.

    A namespaced attribute after an XML parse, a literal "epub:type" after the HTML
    parser: both count.
    """
    value = attrib.get(f"{{{OPS_NS}}}type") or attrib.get("epub:type") or ""
    role = attrib.get("role") or ""
    return {token for token in (value + " " + role).lower().split() if token}
