"""Writes and workflows for user accounts."""

from __future__ import annotations

from django.db import transaction

from .models import User


@transaction.atomic
def demo_user_ensure(*, email: str, password: str) -> tuple[User, bool]:
    """Make the local demo account exist with this password; say whether it was new.

    The demo account is staff so that a newcomer can also look around the admin.
    """
    user, created = User.objects.select_for_update().get_or_create(
        email=email.lower(), defaults={"is_staff": True, "is_superuser": True}
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, created
