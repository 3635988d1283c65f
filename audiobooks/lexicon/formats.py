"""Lexicon files: W3C PLS 1.0 (Pronunciation Lexicon Specification) and CSV, read and written.

Plain Python on bytes and strings. Reading refuses, as ``LexiconFileRefused``,
anything unsafe or malformed before an entry is made: a PLS file with a DTD
or an entity (``defusedxml``, which forbids both, and so any external
entity), XML that is not a ``<lexicon>``, an alphabet other than IPA, a CSV
without its header row. A file with more entries than a lexicon may hold is
``LexiconFull`` as soon as the limit is passed, without reading the rest.

PLS: each ``<lexeme>`` gives one entry per ``<grapheme>``, with its first
``<phoneme>`` (IPA) and its first ``<alias>`` (the respelling). The options
PLS has no words for (case-sensitive, whole word, note) travel as attributes
in this site's own namespace, which other readers ignore.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from xml.etree.ElementTree import Element, ParseError, SubElement, register_namespace, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from audiobooks.errors import LexiconFileRefused, LexiconFull

from .checks import EntryInput

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
OWN_NAMESPACE = "https://ebookvoice.app/ns/lexicon"
MAX_FILE_BYTES = 2 * 1024 * 1024
CSV_COLUMNS = ("text", "respelling", "phonemes", "case_sensitive", "whole_word", "note")
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n", ""}
_IPA_ALPHABETS = {"ipa"}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
register_namespace("", PLS_NAMESPACE)
register_namespace("ebv", OWN_NAMESPACE)


def _pls(name: str) -> str:
    return f"{{{PLS_NAMESPACE}}}{name}"


def _own(name: str) -> str:
    return f"{{{OWN_NAMESPACE}}}{name}"


def _text(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise LexiconFull(f"A lexicon file can be at most {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LexiconFileRefused("A lexicon file must be UTF-8 text.") from exc


def _flag(value: str, *, column: str, line: int, default: bool) -> bool:
    value = (value or "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    where = f"Line {line}: " if line else ""
    raise LexiconFileRefused(f"{where}{column} must be true or false, not “{value[:20]}”.")


def _capped(count: int, limit: int) -> None:
    if count > limit:
        raise LexiconFull(f"A lexicon holds at most {limit:,} entries; this file has more.")


def read_pls(data: bytes, *, limit: int) -> list[EntryInput]:
    text = _text(data)
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise LexiconFileRefused(
            "A PLS file may not declare a DTD or entities (they can read files or the network)."
        ) from exc
    except ParseError as exc:
        raise LexiconFileRefused(f"This is not well-formed XML: {exc}.") from exc
    if root.tag != _pls("lexicon"):
        raise LexiconFileRefused(f"A PLS file's root is <lexicon> in the namespace {PLS_NAMESPACE}.")
    alphabet = (root.get("alphabet") or "ipa").strip().lower()
    entries: list[EntryInput] = []
    for lexeme in root.iter(_pls("lexeme")):
        phoneme = lexeme.find(_pls("phoneme"))
        spelled = (phoneme.get("alphabet") or alphabet) if phoneme is not None else "ipa"
        if spelled.strip().lower() not in _IPA_ALPHABETS:
            raise LexiconFileRefused('Only IPA phonemes can be read (alphabet="ipa").')
        alias = lexeme.find(_pls("alias"))
        for grapheme in lexeme.findall(_pls("grapheme")):
            entries.append(
                EntryInput(
                    text=grapheme.text or "",
                    respelling=(alias.text or "") if alias is not None else "",
                    phonemes=(phoneme.text or "") if phoneme is not None else "",
                    case_sensitive=_flag(
                        lexeme.get(_own("case-sensitive"), ""), column="case-sensitive", line=0, default=False
                    ),
                    whole_word=_flag(
                        lexeme.get(_own("whole-word"), ""), column="whole-word", line=0, default=True
                    ),
                    note=lexeme.get(_own("note"), ""),
                )
            )
            _capped(len(entries), limit)
    return entries


def read_csv(data: bytes, *, limit: int) -> list[EntryInput]:
    """A header row naming its columns (``text`` and at least one of ``respelling``, ``phonemes``)."""
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    try:
        header = [column.strip().lower() for column in next(reader, [])]
        unknown = [column for column in header if column not in CSV_COLUMNS]
        if "text" not in header or unknown or len(set(header)) != len(header):
            raise LexiconFileRefused(
                "A lexicon CSV starts with a header row of its columns: " + ", ".join(CSV_COLUMNS) + "."
            )
        entries: list[EntryInput] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) > len(header):
                raise LexiconFileRefused(f"Line {line} has more cells than the header has columns.")
            cells = dict(zip(header, row, strict=False))
            entries.append(
                EntryInput(
                    text=cells.get("text", ""),
                    respelling=cells.get("respelling", ""),
                    phonemes=cells.get("phonemes", ""),
                    case_sensitive=_flag(
                        cells.get("case_sensitive", ""), column="case_sensitive", line=line, default=False
                    ),
                    whole_word=_flag(
                        cells.get("whole_word", ""), column="whole_word", line=line, default=True
                    ),
                    note=cells.get("note", ""),
                )
            )
            _capped(len(entries), limit)
    except csv.Error as exc:
        raise LexiconFileRefused(f"This is not a readable CSV file: {exc}.") from exc
    return entries


def read_file(data: bytes, *, filename: str, limit: int) -> list[EntryInput]:
    """A PLS file (``.pls``, ``.xml``, or anything starting with ``<``) or a CSV."""
    name = filename.lower()
    if name.endswith((".pls", ".xml")) or (not name.endswith(".csv") and data.lstrip()[:1] == b"<"):
        return read_pls(data, limit=limit)
    return read_csv(data, limit=limit)


def write_pls(entries: Iterable[EntryInput], *, language: str = "en") -> bytes:
    root = Element(_pls("lexicon"), {"version": "1.0", "alphabet": "ipa", _XML_LANG: language})
    for entry in entries:
        options = {
            _own("case-sensitive"): "true" if entry.case_sensitive else "false",
            _own("whole-word"): "true" if entry.whole_word else "false",
        }
        if entry.note:
            options[_own("note")] = entry.note
        lexeme = SubElement(root, _pls("lexeme"), options)
        SubElement(lexeme, _pls("grapheme")).text = entry.text
        if entry.phonemes:
            SubElement(lexeme, _pls("phoneme")).text = entry.phonemes
        if entry.respelling:
            SubElement(lexeme, _pls("alias")).text = entry.respelling
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def write_csv(entries: Sequence[EntryInput]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow(
            [
                entry.text,
                entry.respelling,
                entry.phonemes,
                "true" if entry.case_sensitive else "false",
                "true" if entry.whole_word else "false",
                entry.note,
            ]
        )
    return out.getvalue().encode("utf-8")
