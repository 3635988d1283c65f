"""Quote maths: plain integer functions, no database.

The ledger counts in hundredths of a credit. One credit buys up to
``CREDITS_CHARS_PER_CREDIT`` characters (50,000), so one hundredth buys 500:
a job costs one hundredth per started 500 characters (3,201 characters cost
0.07 credits), and a refund gives back every hundredth that was not fully
rendered, so rounding always favours the user, by less than a minute of audio.

Amounts cross the code as integers named ``*_hundredths``; only the edges (a
page, an email, the API's decimal string, a command's argument) say credits,
through ``format_credits`` and ``parse_credits``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from . import conf

HUNDREDTHS_PER_CREDIT = 100

# The speaking rate, in characters of text per second of audio, of the voice
# new books start with (``tts_engine.registry.DEFAULT_VOICE``), measured by
# ``bench/bench_speaking_rate.py``. The credits app cannot import tts_engine
# (they are independent layers), so its own displays (the grant command, the
# credits admin) say hours at this rate; ``credits.tests.test_pricing`` holds
# it equal to ``tts_engine.speaking_rate``'s figure for that voice. Pages that
# know the voice use that voice's rate.
DEFAULT_VOICE_CHARS_PER_SECOND = 17.2


def quote_hundredths(characters: int, *, chars_per_credit: int | None = None) -> int:
    """Hundredths of a credit for converting ``characters``: ceil(characters × 100 ÷ rate).

    At 50,000 characters a credit that is one hundredth per started 500
    characters: 0 characters cost 0 (the charge service refuses such a
    conversion), 1 to 500 cost 1, 501 cost 2, 3,201 cost 7, 50,000 cost 100.
    """
    if characters < 0:
        raise ValueError(f"characters cannot be negative, got {characters}")
    rate = chars_per_credit or conf.chars_per_credit()
    return -(-characters * HUNDREDTHS_PER_CREDIT // rate)


def used_hundredths(*, rendered_characters: int, chars_per_credit: int) -> int:
    """Hundredths a stopped job keeps: floor(rendered × 100 ÷ rate), only those fully rendered."""
    if rendered_characters < 0:
        raise ValueError("rendered_characters cannot be negative")
    return rendered_characters * HUNDREDTHS_PER_CREDIT // chars_per_credit


def refund_hundredths(*, charged_hundredths: int, rendered_characters: int, chars_per_credit: int) -> int:
    """Hundredths to give back when a conversion stops early: charged − floor(rendered × 100 ÷ rate).

    A partly rendered hundredth is refunded (the user's favour). Never
    negative, never more than was charged.
    """
    if charged_hundredths < 0 or rendered_characters < 0:
        raise ValueError("charged_hundredths and rendered_characters cannot be negative")
    used = used_hundredths(rendered_characters=rendered_characters, chars_per_credit=chars_per_credit)
    return max(0, charged_hundredths - used)


def hundredths_from_credits(credits: int) -> int:
    """Whole credits (a setting such as the signup grant) in the ledger's unit."""
    return credits * HUNDREDTHS_PER_CREDIT


def parse_credits(text: str | int | Decimal) -> int:
    """``"2.5"`` → 250 hundredths. ``ValueError`` for anything finer than a hundredth, or not a number."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number of credits.") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number of credits.")
    hundredths = value * HUNDREDTHS_PER_CREDIT
    if hundredths != hundredths.to_integral_value():
        raise ValueError(f"{text!r} is finer than a hundredth of a credit.")
    return int(hundredths)


def credits_decimal(hundredths: int) -> Decimal:
    """The amount as an exact decimal with two places: 7 → Decimal("0.07")."""
    return (Decimal(hundredths) / HUNDREDTHS_PER_CREDIT).quantize(Decimal("0.01"))


def format_credits(hundredths: int) -> str:
    """Credits with two decimals and thousands separators: 7 → "0.07", 123456 → "1,234.56"."""
    return f"{credits_decimal(hundredths):,.2f}"


def credits_noun(hundredths: int) -> str:
    """ "credit" for exactly one, "credits" otherwise (0.50 credits, 1.00 credit)."""
    return "credit" if hundredths == HUNDREDTHS_PER_CREDIT else "credits"


def describe_credits(hundredths: int) -> str:
    """``"2.50 credits"``."""
    return f"{format_credits(hundredths)} {credits_noun(hundredths)}"


def audio_seconds(hundredths: int, *, chars_per_second: float, chars_per_credit: int | None = None) -> int:
    """Seconds of audio ``hundredths`` buy from a voice that speaks ``chars_per_second``.

    The characters they buy (hundredths × rate ÷ 100) over the speaking rate,
    rounded down: what the balance surely covers.
    """
    if hundredths <= 0:
        return 0
    rate = chars_per_credit or conf.chars_per_credit()
    characters = hundredths * rate // HUNDREDTHS_PER_CREDIT
    return int(characters / chars_per_second)


def format_duration(seconds: int) -> str:
    """Hours and minutes, rounded down to the minute: "2 h 50 min", "45 min", "0 min"."""
    minutes = max(0, seconds) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours:,} h {minutes} min"
    if hours:
        return f"{hours:,} h"
    return f"{minutes} min"


def describe_balance(
    hundredths: int,
    *,
    chars_per_second: float = DEFAULT_VOICE_CHARS_PER_SECOND,
    chars_per_credit: int | None = None,
) -> str:
    """``"2.50 credits (about 1 h 59 min of audio)"``: credits and the time they buy at a speaking rate."""
    seconds = audio_seconds(hundredths, chars_per_second=chars_per_second, chars_per_credit=chars_per_credit)
    return f"{describe_credits(hundredths)} (about {format_duration(seconds)} of audio)"
