"""``{% load prices %}``: ``{{ hundredths|credits }}`` → "2.50"; ``{{ hundredths|credits_noun }}``;
``{{ hundredths|signed_credits }}`` → "+2.50" / "−0.07"; ``{{ hundredths|audio_time }}`` → "2 h 22 min"
at the default voice's speaking rate."""

from __future__ import annotations

from django import template

from audiobooks import prices
from credits import pricing

register = template.Library()


@register.filter
def credits(hundredths: int | None) -> str:
    return pricing.format_credits(int(hundredths or 0))


@register.filter
def credits_noun(hundredths: int | None) -> str:
    return pricing.credits_noun(int(hundredths or 0))


@register.filter
def signed_credits(hundredths: int | None) -> str:
    value = int(hundredths or 0)
    return ("+" if value > 0 else "−" if value < 0 else "") + pricing.format_credits(abs(value))


@register.filter
def audio_time(hundredths: int | None) -> str:
    return prices.amount(int(hundredths or 0)).audio


@register.filter
def duration(seconds: int | None) -> str:
    """Seconds as hours and minutes: "2 h 50 min"."""
    return pricing.format_duration(int(seconds or 0))


@register.filter
def money(amount: int | None, currency: str | None) -> str:
    """Minor units and a currency as a receipt says them: 1800, "eur" → "18.00 EUR"."""
    return f"{int(amount or 0) / 100:.2f} {(currency or '').upper()}".strip()
