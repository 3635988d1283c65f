"""Credits' part in account events; connected in CreditsConfig.ready().

The signup grant is given when an address is verified, not when an account is
made: an unverified address costs nothing to invent.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.http import HttpRequest

from accounts.models import User

from . import selectors, services


def grant_on_email_confirmed(*, email_address: EmailAddress, **kwargs: Any) -> None:
    services.credits_grant_signup(user=email_address.user, email=email_address.email)


def grant_on_verified_signup(*, request: HttpRequest, user: User, **kwargs: Any) -> None:
    # A Google sign-up arrives with its address already verified, so no
    # email_confirmed signal ever follows it.
    verified = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    for email in verified:
        services.credits_grant_signup(user=user, email=email)


def export_ledger(*, user: User, **kwargs: Any) -> dict[str, Any]:
    entries = selectors.credit_entries_list(user=user)
    return {
        "credits": {
            "balance": selectors.credit_balance_get(user=user),
            "entries": [
                {
                    "created_at": entry.created_at.isoformat(),
                    "kind": entry.kind,
                    "amount": entry.amount,
                    "balance_after": entry.balance_after,
                    "reason": entry.reason,
                }
                for entry in entries
            ],
        }
    }
