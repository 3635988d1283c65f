"""Writes and workflows for user accounts."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialToken
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.db import transaction

from . import crypto
from .demo import DemoAccountRefused
from .models import User
from .signals import user_deleting


@transaction.atomic
def demo_user_ensure(*, email: str, password: str) -> tuple[User, bool]:
    """Make the local demo account exist with this password and a verified address; say whether it was new.

    It is a superuser so a newcomer can also look around the admin, and its
    address is verified so the password signs in with no emailed code. Raises
    ``DemoAccountRefused`` where the settings forbid it (production).
    """
    if not settings.DEMO_ACCOUNT_ALLOWED:
        raise DemoAccountRefused(DemoAccountRefused.message)
    user, created = User.objects.select_for_update().get_or_create(
        email=email.lower(), defaults={"is_staff": True, "is_superuser": True}
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user, created


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Delete a person and everything that is theirs.

    Every session (browser and app tokens) is ended, each app deletes its own
    data through ``signals.user_deleting``, then the user row goes, and with
    it their addresses, social accounts, authenticators and magic links.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    for session in UserSession.objects.filter(user=user):
        session.end()
    user_deleting.send(sender=User, user=user)
    user.delete()


@transaction.atomic(durable=True)
def user_profile_update(
    *,
    user: User,
    first_name: str | None = None,
    last_name: str | None = None,
    notify_by_email: bool | None = None,
) -> User:
    """Change the person's name or their email-notification choice; None leaves a field as it is."""
    changes = {
        name: value
        for name, value in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("notify_by_email", notify_by_email),
        )
        if value is not None
    }
    locked = User.objects.select_for_update().get(pk=user.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    if changes:
        locked.save(update_fields=list(changes))
    return locked


@dataclass(frozen=True)
class RotationReport:
    rotated: int
    already_current: int


def _rotated(value: str, counts: list[int]) -> str:
    if crypto.is_current(value):
        counts[1] += 1
        return value
    counts[0] += 1
    return crypto.rotate(value)


@transaction.atomic
def encryption_keys_rotate() -> RotationReport:
    """Re-encrypt every encrypted value under the newest of ``FERNET_KEYS``.

    Covers TOTP secrets and recovery-code seeds (allauth MFA) and stored OAuth
    tokens. Values already under the newest key are left alone, so running it
    twice is harmless. A value no key can decrypt stops the whole run, and
    nothing is changed.
    """
    counts = [0, 0]
    for authenticator in Authenticator.objects.select_for_update().order_by("pk"):
        data = dict(authenticator.data)
        if authenticator.type == Authenticator.Type.TOTP:
            data["secret"] = _rotated(data["secret"], counts)
        elif authenticator.type == Authenticator.Type.RECOVERY_CODES:
            data["seed"] = _rotated(data["seed"], counts)
            if data.get("migrated_codes") is not None:
                data["migrated_codes"] = [_rotated(code, counts) for code in data["migrated_codes"]]
        if data != authenticator.data:
            authenticator.data = data
            authenticator.save(update_fields=["data"])
    for token in SocialToken.objects.select_for_update().order_by("pk"):
        fields = []
        for field in ("token", "token_secret"):
            value = getattr(token, field)
            if value:
                new_value = _rotated(value, counts)
                if new_value != value:
                    setattr(token, field, new_value)
                    fields.append(field)
        if fields:
            token.save(update_fields=fields)
    return RotationReport(rotated=counts[0], already_current=counts[1])
