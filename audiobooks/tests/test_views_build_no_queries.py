"""Views and serializers build no query of their own: every read they make is a ``selectors`` call.

ruff's TID251 (``audiobooks/web/ruff.toml``, ``audiobooks/api/ruff.toml``)
bans ``Q``, ``F``, ``Prefetch`` and ``django.db.models.functions`` there; this
finds the query methods themselves.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1]
QUERY_BUILDING = re.compile(
    r"\.objects\b|\.(filter|exclude|annotate|aggregate|order_by|select_related|prefetch_related)\("
)


def query_building_lines(package: Path) -> list[str]:
    return [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if QUERY_BUILDING.search(line)
    ]


@pytest.mark.parametrize("package", ["web", "api"])
def test_no_view_or_serializer_builds_a_query(package):
    assert (PACKAGES / package / "__init__.py").is_file()
    assert query_building_lines(PACKAGES / package) == []


def test_the_search_finds_a_query_where_there_is_one(tmp_path):
    (tmp_path / "views.py").write_text("books = Book.objects.all()\nrows = books.order_by('-id')\n")
    assert len(query_building_lines(tmp_path)) == 2
