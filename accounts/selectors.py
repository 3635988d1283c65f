"""Reads about user accounts."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.utils import timezone

from .models import User
from .signals import user_exporting

EXPORT_FORMAT = "ebookvoice-export/1"


def user_export(*, user: User) -> dict[str, Any]:
    """Everything kept about ``user``, as JSON-serialisable data.

    Secrets (password hash, TOTP secrets, OAuth tokens) are left out; other
    apps add their sections (books, conversions, ledger) through
    ``signals.user_exporting``.
    """
    export: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "profile": {
            "id": str(user.uuid),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
        },
        "email_addresses": list(
            EmailAddress.objects.filter(user=user).order_by("email").values("email", "verified", "primary")
        ),
        "social_accounts": list(
            SocialAccount.objects.filter(user=user)
            .order_by("provider")
            .values("provider", "uid", "date_joined", "last_login")
        ),
        "two_factor_authenticators": list(
            Authenticator.objects.filter(user=user)
            .order_by("created_at")
            .values("type", "created_at", "last_used_at")
        ),
        "sessions": list(
            UserSession.objects.filter(user=user)
            .order_by("-last_seen_at")
            .values("ip", "user_agent", "created_at", "last_seen_at")
        ),
    }
    for _receiver, sections in user_exporting.send(sender=User, user=user):
        if isinstance(sections, dict):
            export.update(sections)
    return export


def user_profile(*, user: User) -> dict[str, Any]:
    """What an app shows about the signed-in person."""
    return {
        "id": user.uuid,
        "email": user.email,
        "email_verified": EmailAddress.objects.filter(
            user=user, email__iexact=user.email, verified=True
        ).exists(),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "date_joined": user.date_joined,
        "mfa_enabled": Authenticator.objects.filter(user=user).exists(),
        "notify_by_email": user.notify_by_email,
    }
