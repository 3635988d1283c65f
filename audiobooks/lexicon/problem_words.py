"""A book's likely problem words: capitalised words that are not in an English word list.

The names and coinages a voice is most likely to say wrong ("Queequeg",
"Tashtego"). The list (``data/english-words.txt``, about 30,000 words from
wordfreq, see ``data/README.md``) is vendored: nothing is read from the system.
Plain Python, no models.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tts_engine.text.common import roman_value

WORD_LIST = Path(__file__).with_name("data") / "english-words.txt"
# A capital, then letters, perhaps joined by an apostrophe or a hyphen ("O'Brien", "Jean-Luc").
_CAPITALISED = re.compile(r"(?<![\w'’-])([^\W\d_a-z][^\W\d_]*(?:['’-][^\W\d_]+)*)(?![\w-])")
_POSSESSIVE = re.compile(r"['’]s$")


@functools.cache
def english_words() -> frozenset[str]:
    return frozenset(WORD_LIST.read_text(encoding="utf-8").split())


def _known(word: str, words: frozenset[str]) -> bool:
    folded = word.casefold().replace("’", "'")
    parts = [part for part in re.split(r"[-']", folded) if part]
    return folded in words or all(part in words for part in parts)


def problem_words(texts: Iterable[str], *, limit: int = 200) -> list[tuple[str, int]]:
    """``(word, count)``, most frequent first (then alphabetical), at most ``limit``.

    A word counts as written, without a possessive "'s"; a word in capitals
    ("CHAPTER") or a Roman numeral is left out, as is one letter alone.
    """
    words = english_words()
    counts: Counter[str] = Counter()
    for text in texts:
        for match in _CAPITALISED.finditer(text):
            word = _POSSESSIVE.sub("", match.group(1))
            if len(word) < 2 or word.isupper() or roman_value(word) is not None:
                continue
            if not _known(word, words):
                counts[word] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
