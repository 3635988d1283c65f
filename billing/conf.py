"""Billing's settings: Stripe's keys and prices, the credit packs and the premium plan.

=================================  ==================================================================
setting                            meaning
=================================  ==================================================================
``STRIPE_SECRET_KEY``              the API key (``sk_live_…``/``sk_test_…``); empty: billing is off
``STRIPE_WEBHOOK_SECRET``          the webhook endpoint's signing secret (``whsec_…``)
``STRIPE_PRICES``                  each pack's key and ``premium`` to a Stripe price id
``BILLING_CURRENCY``               the currency sold in (``eur``); each price id must be in it
``BILLING_PACKS``                  ``[{"key", "credits", "amounts": {currency: minor units}}]``
``BILLING_PREMIUM_MONTHLY_CREDITS``  credits granted on each paid premium invoice (whole credits)
``BILLING_PREMIUM_AMOUNTS``        the monthly price shown, ``{currency: minor units}``
=================================  ==================================================================

The amounts are what the pages show; Stripe charges what its price says, and
the ledger records what Stripe reports was paid. Every value is read at call
time, so ``override_settings`` works in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from credits.pricing import HUNDREDTHS_PER_CREDIT

PREMIUM = "premium"

DEFAULT_PACKS: list[dict[str, Any]] = [
    {"key": "pack-5", "credits": 5, "amounts": {"eur": 500, "usd": 550}},
    {"key": "pack-20", "credits": 20, "amounts": {"eur": 1800, "usd": 2000}},
    {"key": "pack-50", "credits": 50, "amounts": {"eur": 4000, "usd": 4500}},
]
DEFAULT_PREMIUM_AMOUNTS = {"eur": 900, "usd": 1000}
DEFAULT_PREMIUM_MONTHLY_CREDITS = 10
# Stripe's own default; stated so the choice is visible where the secret is used.
WEBHOOK_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class Pack:
    key: str
    credits: int
    amounts: dict[str, int]

    @property
    def hundredths(self) -> int:
        return self.credits * HUNDREDTHS_PER_CREDIT


def secret_key() -> str:
    return str(getattr(settings, "STRIPE_SECRET_KEY", "") or "")


def webhook_secret() -> str:
    return str(getattr(settings, "STRIPE_WEBHOOK_SECRET", "") or "")


def prices() -> dict[str, str]:
    return {str(key): str(value) for key, value in (getattr(settings, "STRIPE_PRICES", None) or {}).items()}


def currency() -> str:
    return str(getattr(settings, "BILLING_CURRENCY", "eur") or "eur").lower()


def packs() -> list[Pack]:
    raw = getattr(settings, "BILLING_PACKS", None) or DEFAULT_PACKS
    return [
        Pack(key=str(item["key"]), credits=int(item["credits"]), amounts=dict(item.get("amounts", {})))
        for item in raw
    ]


def pack_get(key: str) -> Pack | None:
    return next((pack for pack in packs() if pack.key == key), None)


def premium_amounts() -> dict[str, int]:
    return dict(getattr(settings, "BILLING_PREMIUM_AMOUNTS", None) or DEFAULT_PREMIUM_AMOUNTS)


def premium_monthly_hundredths() -> int:
    credits = getattr(settings, "BILLING_PREMIUM_MONTHLY_CREDITS", DEFAULT_PREMIUM_MONTHLY_CREDITS)
    return int(credits) * HUNDREDTHS_PER_CREDIT


def enabled() -> bool:
    """Billing is on when both keys are set and the rest agrees (``configuration_problems``).

    Half a configuration is off, not half on: ``manage.py check`` reports it,
    and production refuses to start with it.
    """
    return bool(secret_key() and webhook_secret()) and not configuration_problems()


def configuration_problems() -> list[str]:
    """What is wrong with the billing settings, as messages; empty when they are whole or all unset."""
    problems: list[str] = []
    named = {"STRIPE_SECRET_KEY": secret_key(), "STRIPE_WEBHOOK_SECRET": webhook_secret()}
    price_ids = prices()
    if not any(named.values()) and not price_ids:
        return problems  # billing is off, as in the embedded default
    problems += [
        f"{name} is not set, but other Stripe settings are" for name, value in named.items() if not value
    ]
    wanted = [pack.key for pack in packs()] + [PREMIUM]
    if missing := [key for key in wanted if not price_ids.get(key)]:
        problems.append("STRIPE_PRICES has no price id for " + ", ".join(missing))
    if unknown := sorted(set(price_ids) - set(wanted)):
        problems.append("STRIPE_PRICES names unknown packs: " + ", ".join(unknown))
    money = currency()
    if no_amount := [pack.key for pack in packs() if pack.amounts.get(money, 0) <= 0]:
        problems.append(f"BILLING_PACKS has no {money} amount for " + ", ".join(no_amount))
    if premium_amounts().get(money, 0) <= 0:
        problems.append(f"BILLING_PREMIUM_AMOUNTS has no {money} amount")
    return problems
