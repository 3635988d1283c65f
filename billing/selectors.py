"""Billing's reads: what the credits page, the API and staff see. A reader's rows are fetched by ``user``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.http import Http404

from credits.models import CreditAccount

from . import conf
from .models import PREMIUM_STATUSES, BillingCustomer, Checkout, Payment, Subscription

if TYPE_CHECKING:
    from uuid import UUID

    from accounts.models import User

RECENT_PAYMENTS = 12


@dataclass(frozen=True)
class PackOffer:
    key: str
    credits: int
    hundredths: int
    amount: int
    currency: str

    @property
    def price(self) -> str:
        return f"{self.amount / 100:.2f} {self.currency.upper()}"


@dataclass(frozen=True)
class PremiumOffer:
    amount: int
    currency: str
    monthly_credits: int

    @property
    def price(self) -> str:
        return f"{self.amount / 100:.2f} {self.currency.upper()}"


@dataclass(frozen=True)
class BillingOverview:
    enabled: bool
    currency: str
    packs: list[PackOffer]
    premium: PremiumOffer
    subscription: Subscription | None
    has_customer: bool

    @property
    def renews_at(self) -> datetime | None:
        """The next renewal, or None when there is none (no plan, or it ends at ``ends_at``)."""
        sub = self.subscription
        if sub is None or not sub.is_premium or sub.cancel_at_period_end:
            return None
        return sub.current_period_end

    @property
    def ends_at(self) -> datetime | None:
        sub = self.subscription
        if sub is None or not sub.is_premium or not sub.cancel_at_period_end:
            return None
        return sub.current_period_end


def pack_offers() -> list[PackOffer]:
    money = conf.currency()
    return [
        PackOffer(
            key=pack.key,
            credits=pack.credits,
            hundredths=pack.hundredths,
            amount=pack.amounts.get(money, 0),
            currency=money,
        )
        for pack in conf.packs()
    ]


@dataclass(frozen=True)
class TopUp:
    """The quote screen's "Buy N more credits": the smallest pack that covers the shortfall."""

    pack: PackOffer
    packs: list[PackOffer]

    @property
    def packs_json(self) -> list[dict[str, object]]:
        return [{"key": p.key, "credits": p.credits, "hundredths": p.hundredths} for p in self.packs]


def top_up_offer(*, shortfall_hundredths: int) -> TopUp | None:
    """The pack to offer for a shortfall (the largest when none covers it), or None when billing is off."""
    packs = sorted(pack_offers(), key=lambda pack: pack.hundredths)
    if not conf.enabled() or not packs:
        return None
    pack = next((p for p in packs if p.hundredths >= shortfall_hundredths), packs[-1])
    return TopUp(pack=pack, packs=packs)


def billing_overview(*, user: User) -> BillingOverview:
    """Packs and prices, the premium offer, and the reader's own subscription (the newest that is live)."""
    money = conf.currency()
    subscription = Subscription.objects.filter(user=user, status__in=PREMIUM_STATUSES).order_by("-id").first()
    return BillingOverview(
        enabled=conf.enabled(),
        currency=money,
        packs=pack_offers(),
        premium=PremiumOffer(
            amount=conf.premium_amounts().get(money, 0),
            currency=money,
            monthly_credits=conf.premium_monthly_hundredths() // 100,
        ),
        subscription=subscription,
        has_customer=BillingCustomer.objects.filter(user=user).exists(),
    )


def payments_list(*, user: User) -> QuerySet[Payment]:
    """The reader's own payments, newest first."""
    return Payment.objects.filter(user=user).order_by("-id")[:RECENT_PAYMENTS]


def payment_get_for_user(*, user: User, payment_uuid: UUID) -> Payment:
    payment = Payment.objects.filter(user=user, uuid=payment_uuid).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment


def checkout_get_for_user(*, user: User, session_id: str) -> Checkout:
    """A checkout this reader started, by Stripe's session id, or 404 (another reader's too)."""
    checkout = Checkout.objects.filter(user=user, stripe_session_id=session_id[:255]).first()
    if checkout is None:
        raise Http404("No such checkout.")
    return checkout


def shortfall_get(*, user: User) -> int:
    """Hundredths of a credit the reader owes after a refund or dispute; 0 normally."""
    return CreditAccount.objects.filter(user=user).values_list("shortfall", flat=True).first() or 0
