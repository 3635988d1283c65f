from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tts_engine.pauses import Pauses, configured_pauses_errors, voice_pauses

JOE = "piper:en_US-joe-medium"


def test_structure_has_its_own_pauses_longest_after_the_chapter_announcement():
    pauses = Pauses()
    assert (pauses.sentence_ms, pauses.paragraph_ms, pauses.heading_ms, pauses.title_ms) == (
        300,
        800,
        1000,
        1500,
    )


def test_a_voice_without_settings_of_its_own_uses_the_defaults(settings):
    settings.TTS_VOICE_PAUSES = "{}"
    assert voice_pauses(JOE) == Pauses()


def test_a_voice_changes_only_the_pauses_it_names(settings):
    settings.TTS_VOICE_PAUSES = '{"piper:en_US-joe-medium": {"title_ms": 1800, "heading_ms": 1200}}'
    assert voice_pauses(JOE) == Pauses(title_ms=1800, heading_ms=1200)
    assert voice_pauses("piper:other") == Pauses()


def test_the_setting_may_be_a_mapping_as_well_as_json(settings):
    settings.TTS_VOICE_PAUSES = {JOE: {"sentence_ms": 250}}
    assert voice_pauses(JOE) == Pauses(sentence_ms=250)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "TTS_VOICE_PAUSES is not valid JSON"),
        ("[1, 2]", "must map voice keys to pauses"),
        ('{"piper:en_US-joe-medium": 300}', "must map pause names to milliseconds"),
        ('{"piper:en_US-joe-medium": {"chapter_ms": 300}}', "names no pause chapter_ms; the pauses are"),
        (
            '{"piper:en_US-joe-medium": {"title_ms": 20000}}',
            "title_ms must be a whole number of milliseconds",
        ),
        ('{"piper:en_US-joe-medium": {"title_ms": true}}', "title_ms must be a whole number of milliseconds"),
    ],
)
def test_a_bad_setting_is_reported_by_the_system_checks_with_what_is_wrong(settings, value, message):
    settings.TTS_VOICE_PAUSES = value
    (error,) = configured_pauses_errors()
    assert message in error
    with pytest.raises(SystemCheckError, match=r"tts_engine\.E001"):
        call_command("check")


def test_good_settings_pass_the_system_checks(settings):
    settings.TTS_VOICE_PAUSES = '{"piper:en_US-joe-medium": {"title_ms": 1800}}'
    assert configured_pauses_errors() == []
    call_command("check")
