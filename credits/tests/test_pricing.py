from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from credits import conf
from credits.errors import format_bytes, format_wait, plural
from credits.pricing import quote_credits, refund_credits


@pytest.mark.parametrize(
    ("characters", "credits"),
    [(0, 0), (1, 1), (49_999, 1), (50_000, 1), (50_001, 2), (100_000, 2), (100_001, 3), (1_000_000, 20)],
)
def test_a_quote_is_one_credit_per_started_fifty_thousand_characters(characters, credits):
    assert quote_credits(characters) == credits


def test_a_quote_follows_the_characters_per_credit_setting():
    with override_settings(CREDITS_CHARS_PER_CREDIT=10_000):
        assert quote_credits(10_001) == 2


def test_a_quote_refuses_negative_characters():
    with pytest.raises(ValueError, match="negative"):
        quote_credits(-1)


def test_a_nonsense_rate_setting_is_reported_not_divided_by():
    with override_settings(CREDITS_CHARS_PER_CREDIT=0), pytest.raises(ImproperlyConfigured):
        quote_credits(10)


@pytest.mark.parametrize(
    ("charged", "rendered", "refund"),
    [
        (3, 0, 3),  # nothing rendered: everything back
        (3, 49_999, 3),  # a partly rendered block is refunded: the user's favour
        (3, 50_000, 2),
        (3, 120_000, 1),
        (3, 150_000, 0),  # all rendered
        (3, 999_999, 0),  # never negative
    ],
)
def test_a_refund_keeps_only_fully_rendered_blocks(charged, rendered, refund):
    assert refund_credits(charged=charged, rendered_characters=rendered, chars_per_credit=50_000) == refund


def test_plan_settings_may_name_only_what_they_change():
    with override_settings(CREDITS_STORAGE_QUOTA_BYTES={"premium": 7}, CREDITS_RATE_LIMITS={"upload": "1/m"}):
        assert conf.storage_quota_bytes("free") == 2_000_000_000
        assert conf.storage_quota_bytes("premium") == 7
        assert conf.rate_limits() == {"upload": "1/m", "conversion": "5/h", "text_preview": "60/h"}


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
