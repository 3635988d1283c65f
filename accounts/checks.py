"""System checks for accounts: ``check --deploy`` refuses a site where the local demo account exists."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError

from .demo import DEMO_EMAIL
from .models import User


@register(Tags.security, deploy=True)
def demo_account_absent(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The demo account is a superuser whose password is in the README: no deployed site may have it."""
    try:
        exists = User.objects.filter(email__iexact=DEMO_EMAIL).exists()
    except DatabaseError:
        # No database to look in (an image build, a database not created or migrated yet):
        # nothing can sign in there either.
        return []
    if not exists:
        return []
    return [
        Error(
            f"The local demo account {DEMO_EMAIL} exists, a superuser whose password is published.",
            hint=f'Delete it: python manage.py shell -c "from accounts.models import User; '
            f"User.objects.filter(email='{DEMO_EMAIL}').delete()\"",
            id="accounts.E001",
        )
    ]
