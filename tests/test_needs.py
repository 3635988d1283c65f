"""The rule on skips: only what `./dev test` cannot install may be missing, and the run says how to get it."""

from __future__ import annotations

from tests import needs

SKIPS = {
    "tests/test_browser_journey.py::test_a": "Skipped: missing: chromium",
    "tests/test_browser_journey.py::test_b": "Skipped: missing: chromium",
    "tts_engine/tests/test_coqui.py": "Skipped: missing: the Coqui extra",
}


def test_a_missing_program_or_extra_is_allowed_counted_and_installed_by_one_line():
    missing, forbidden = needs.sort_skips(SKIPS, strict=False)
    assert missing == {"chromium": 2, "the Coqui extra": 1}
    assert forbidden == {}
    assert needs.how_to_install(missing) == "apt-get install chromium; requirements/install-coqui.sh"


def test_any_other_skip_is_forbidden_even_outside_ci():
    skips = {"a.py::test_x": "Skipped: flaky today", "b.py::test_y": "Skipped: missing: pg_dump"}
    assert needs.sort_skips(skips, strict=False) == ({}, skips)


def test_in_ci_nothing_may_be_missing():
    assert needs.sort_skips(SKIPS, strict=True) == ({}, SKIPS)


def test_only_the_apt_line_when_only_system_programs_are_missing():
    assert needs.how_to_install({"chromium"}) == "apt-get install chromium"
