"""Guess the encoding of bytes that declare none (TXT files, HTML without a charset)."""

from __future__ import annotations

import charset_normalizer

# charset-normalizer reads a sample; a whole novel would only make it slower.
SNIFF_BYTES = 512 * 1024
# On short Western text it often ranks a Baltic or DOS code page first by a hair.
# Windows-1252 is what such files almost always are, so it wins any near tie.
PREFERRED = "cp1252"
NEAR_TIE = 0.2


def guess_decode(data: bytes) -> str:
    """Strict UTF-8 if it fits, else the most plausible legacy encoding."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return data.decode(guess_encoding(data[:SNIFF_BYTES]), errors="replace")


def guess_encoding(sample: bytes) -> str:
    """The most plausible legacy encoding of a sample that is not UTF-8."""
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        return PREFERRED
    best = matches[0]
    for match in matches:
        if match.encoding == PREFERRED and match.chaos <= best.chaos + NEAR_TIE:
            best = match
            break
    return best.encoding
