"""`manage.py inspect_book`: the operator's view of what ingestion makes of a file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ebookvoice.paths import BASE_DIR as REPO
from ebookvoice.paths import corpus_dir

from .ingest_fixtures import write_text
from .prose_fixtures import prose_block

CORPUS = corpus_dir()

SHERLOCK = CORPUS / "good" / "sherlock-holmes.epub"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("inspect_book", *args, stdout=out)
    return out.getvalue()


def test_json_output_has_the_documented_shape() -> None:
    report = json.loads(run(str(SHERLOCK), "--json"))
    assert set(report) == {"title", "authors", "language", "words", "cover", "warnings", "chapters"}
    # The SVG cover (1400 x 2100) drawn as a JPEG no higher than 1400 px.
    assert report["cover"] == {"media_type": "image/jpeg", "width": 933, "height": 1400}
    assert (report["title"], report["authors"], report["language"]) == (
        "The Adventures of Sherlock Holmes",
        ["Arthur Conan Doyle"],
        "en-GB",
    )
    assert report["warnings"] == []
    assert report["words"] == sum(chapter["words"] for chapter in report["chapters"])
    assert [chapter["index"] for chapter in report["chapters"]] == list(range(16))
    first = report["chapters"][0]
    assert first == {
        "index": 0,
        "title": "Titlepage",
        "words": 9,
        "chars": 57,
        "included": False,
        "reason": "Title page (front matter)",
        "group": 0,
        "section": 0,
        "group_title": "",
    }


def test_json_output_carries_the_warnings_of_a_tolerated_book() -> None:
    report = json.loads(
        run(str(CORPUS / "tolerated" / "epubcheck_ocf-mimetype-file-missing-error.epub"), "--json")
    )
    assert len(report["warnings"]) == 1
    assert "mimetype" in report["warnings"][0]


def test_json_keeps_markup_in_a_title_as_literal_text() -> None:
    report = json.loads(run(str(CORPUS / "good" / "probe_xss_title.epub"), "--json"))
    assert report["title"] == "<script>alert(1)</script>"


def test_human_output_lists_chapters_and_ends_with_a_summary() -> None:
    output = run(str(SHERLOCK)).rstrip("\n").splitlines()
    assert output[0] == "Title:    The Adventures of Sherlock Holmes"
    assert any("A Scandal in Bohemia" in line and line.rstrip().endswith("yes") for line in output)
    assert any("Colophon" in line and "no: Colophon (back matter)" in line for line in output)
    assert output[-1] == "16 chapters, 12 included (104,367 of 105,059 words), 0 warning(s)."


def test_bad_file_raises_a_command_error_with_exit_status_2() -> None:
    with pytest.raises(CommandError) as caught:
        run(str(CORPUS / "bad" / "probe_encrypted_chapter.epub"))
    assert caught.value.returncode == 2
    assert "DRM-protected" in str(caught.value)
    assert "[drm]" in str(caught.value)


def test_bad_file_from_the_shell_prints_one_stderr_line_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "inspect_book", str(CORPUS / "bad" / "probe_billion_laughs_opf.epub")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "entity declarations" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_file_exits_2() -> None:
    with pytest.raises(CommandError) as caught:
        run(str(CORPUS / "no-such-book.epub"))
    assert caught.value.returncode == 2


def test_a_divided_chapter_is_shown_with_its_sections_under_it(tmp_path) -> None:
    long, _ = prose_block(31, 250_000)
    short, _ = prose_block(32, 5_000)
    path = write_text(tmp_path, "divided.txt", f"Chapter 1\n\n{long}Chapter 2\n\n{short}".encode())
    report = json.loads(run(str(path), "--json"))
    assert [(c["title"], c["group"], c["section"], c["group_title"]) for c in report["chapters"]] == [
        ("Chapter 1", 0, 1, "Chapter 1"),
        *((f"Chapter 1, part {n}", 0, n, "Chapter 1") for n in range(2, 9)),
        ("Chapter 2", 1, 0, ""),
    ]
    lines = run(str(path)).rstrip("\n").splitlines()
    header = lines.index(next(line for line in lines if line.strip() == "Chapter 1 (8 parts)"))
    assert [line.split()[:3] for line in lines[header + 1 : header + 9]] == [
        [str(n - 1), "Part", str(n)] for n in range(1, 9)
    ]
    assert lines[header + 9].split()[:3] == ["8", "Chapter", "2"]
    assert lines[-1].startswith("2 chapters in 9 parts, 9 included")
