"""The local demo account that ``./dev up`` creates, and the guard that keeps it off production.

It is a superuser whose password is published in the README, so only the
embedded profile makes it (``DEMO_ACCOUNT_ALLOWED``; production settings set it
False) and ``check --deploy`` reports one that exists (``accounts.checks``).
"""

from __future__ import annotations

DEMO_EMAIL = "demo@ebookvoice.local"
DEMO_PASSWORD = "listen-to-books"  # noqa: S105 (local demo only)


class DemoAccountRefused(Exception):
    """These settings do not allow the demo account (production)."""

    message = (
        "The demo account has a published password, so only the local profile creates it "
        "(DEMO_ACCOUNT_ALLOWED is off in these settings)."
    )
