from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from credits import conf
from credits.errors import format_bytes, format_wait, plural
from credits.pricing import (
    DEFAULT_VOICE_CHARS_PER_SECOND,
    audio_seconds,
    describe_balance,
    describe_credits,
    format_credits,
    format_duration,
    parse_credits,
    quote_hundredths,
    refund_hundredths,
)
from tts_engine import speaking_rate
from tts_engine.registry import DEFAULT_VOICE


@pytest.mark.parametrize(
    ("characters", "hundredths"),
    [
        (0, 0),
        (1, 1),
        (500, 1),
        (501, 2),
        (3_201, 7),  # two short chapters: 0.07 credits, not a whole credit
        (49_999, 100),
        (50_000, 100),
        (50_001, 101),
        (1_000_000, 2_000),
    ],
)
def test_a_quote_is_one_hundredth_per_started_five_hundred_characters(characters, hundredths):
    assert quote_hundredths(characters) == hundredths


def test_a_three_thousand_two_hundred_character_job_costs_seven_hundredths():
    assert format_credits(quote_hundredths(3_201)) == "0.07"


def test_a_quote_follows_the_characters_per_credit_setting():
    with override_settings(CREDITS_CHARS_PER_CREDIT=10_000):
        assert quote_hundredths(101) == 2  # 100 characters a hundredth
    # A rate that is not a multiple of 100 still rounds up exactly.
    assert quote_hundredths(1, chars_per_credit=333) == 1
    assert quote_hundredths(333, chars_per_credit=333) == 100
    assert quote_hundredths(334, chars_per_credit=333) == 101


def test_a_quote_refuses_negative_characters():
    with pytest.raises(ValueError, match="negative"):
        quote_hundredths(-1)


def test_a_nonsense_rate_setting_is_reported_not_divided_by():
    with override_settings(CREDITS_CHARS_PER_CREDIT=0), pytest.raises(ImproperlyConfigured):
        quote_hundredths(10)


@pytest.mark.parametrize(
    ("charged", "rendered", "refund"),
    [
        (300, 0, 300),  # nothing rendered: everything back
        (300, 499, 300),  # a partly rendered hundredth is refunded: the user's favour
        (300, 500, 299),
        (7, 3_201, 1),  # 3,201 rendered of a 7-hundredth job: 6 used, the started seventh back
        (300, 120_000, 60),
        (300, 150_000, 0),  # all rendered
        (300, 999_999, 0),  # never negative
    ],
)
def test_a_refund_keeps_only_fully_rendered_hundredths(charged, rendered, refund):
    assert (
        refund_hundredths(charged_hundredths=charged, rendered_characters=rendered, chars_per_credit=50_000)
        == refund
    )


@pytest.mark.parametrize(
    ("text", "hundredths"),
    [("2.5", 250), ("3", 300), ("0.07", 7), (" 10.00 ", 1_000), ("1e1", 1_000)],
)
def test_credits_are_parsed_to_the_hundredth(text, hundredths):
    assert parse_credits(text) == hundredths


@pytest.mark.parametrize("text", ["0.005", "abc", "", "nan", "inf"])
def test_amounts_finer_than_a_hundredth_or_not_numbers_are_refused(text):
    with pytest.raises(ValueError, match=r"number of credits|finer than a hundredth"):
        parse_credits(text)


def test_amounts_show_as_credits_with_two_decimals():
    assert format_credits(7) == "0.07"
    assert format_credits(300) == "3.00"
    assert format_credits(123_456) == "1,234.56"
    assert describe_credits(100) == "1.00 credit"
    assert describe_credits(250) == "2.50 credits"


def test_balances_say_the_audio_they_buy_at_a_speaking_rate():
    # 3 credits = 150,000 characters; at 17 characters a second that is 8,823 s.
    assert audio_seconds(300, chars_per_second=17.0) == 8_823
    assert format_duration(8_823) == "2 h 27 min"
    assert format_duration(3_600) == "1 h"
    assert format_duration(59) == "0 min"
    assert describe_balance(300, chars_per_second=17.0) == "3.00 credits (about 2 h 27 min of audio)"


def test_the_credits_apps_default_rate_is_the_default_voices_measured_rate():
    assert speaking_rate.chars_per_second(DEFAULT_VOICE) == DEFAULT_VOICE_CHARS_PER_SECOND


def test_plan_settings_may_name_only_what_they_change():
    with override_settings(CREDITS_STORAGE_QUOTA_BYTES={"premium": 7}, CREDITS_RATE_LIMITS={"upload": "1/m"}):
        assert conf.storage_quota_bytes("free") == 2_000_000_000
        assert conf.storage_quota_bytes("premium") == 7
        assert conf.rate_limits() == {
            "upload": "1/m",
            "conversion": "5/h",
            "text_preview": "60/h",
            "checkout": "20/h",
        }


def test_the_documented_defaults():
    assert conf.chars_per_credit() == 50_000
    assert conf.signup_grant() == 3
    assert conf.max_upload_bytes() == 200_000_000
    assert conf.originals_retention_days() == 30


def test_messages_speak_in_whole_units():
    assert format_bytes(2_000_000_000) == "2 GB"
    assert format_bytes(1_500_000) == "1.5 MB"
    assert format_bytes(250_400_000) == "250 MB"
    assert format_bytes(1) == "1 byte"
    assert format_wait(30) == "a minute"
    assert format_wait(61) == "2 minutes"
    assert format_wait(3600) == "1 hour"
    assert plural(2, "entry") == "2 entries"
    assert plural(1, "mismatch") == "1 mismatch"
    assert plural(0, "mismatch") == "0 mismatches"
