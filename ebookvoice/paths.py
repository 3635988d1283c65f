"""Where a local install keeps its state, importable without Django."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """The folder for local state: database, media, secrets, sockets.

    EBOOKVOICE_VAR_DIR moves it, so tests and several checkouts can keep apart.
    """
    return Path(os.environ.get("EBOOKVOICE_VAR_DIR") or BASE_DIR / "var").resolve()


def corpus_dir() -> Path:
    """The test corpus of real and crafted ebooks, inside the checkout (see its README.md)."""
    return BASE_DIR / "tests" / "corpus"
