"""Quote maths: plain integer functions, no database.

One credit buys up to ``CREDITS_CHARS_PER_CREDIT`` characters (50,000, about
an hour of audio). Every started block costs a whole credit; refunds give back
every block that was not fully rendered, so rounding always favours the user.
"""

from __future__ import annotations

from . import conf


def quote_credits(characters: int, *, chars_per_credit: int | None = None) -> int:
    """Credits for converting ``characters``: ceil(characters ÷ rate).

    0 characters cost 0 credits (there is nothing to convert, and the charge
    service refuses such a conversion); 1 to 50,000 cost 1; 50,001 cost 2.
    """
    if characters < 0:
        raise ValueError(f"characters cannot be negative, got {characters}")
    rate = chars_per_credit or conf.chars_per_credit()
    return -(-characters // rate)


def refund_credits(*, charged: int, rendered_characters: int, chars_per_credit: int) -> int:
    """Credits to give back when a conversion stops early: charged − floor(rendered ÷ rate).

    Only fully rendered blocks are kept, so a partly rendered block is refunded
    (the user's favour). Never negative, never more than was charged.
    """
    if charged < 0 or rendered_characters < 0:
        raise ValueError("charged and rendered_characters cannot be negative")
    used = rendered_characters // chars_per_credit
    return max(0, charged - used)
