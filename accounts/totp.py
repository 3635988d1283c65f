"""The code that turned on two-factor sign-in is spent: it cannot also sign in.

allauth records a TOTP code as used when it signs someone in (so it works
once), but not when it activates the authenticator, so the code typed to turn
2FA on was accepted again at sign-in within the same 30 s. When a TOTP
authenticator is added (web or app), every code valid at that moment is
recorded as used, under allauth's own record, for as long as it stays valid.
With allauth's default tolerance of 0 steps that is exactly the activation code.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp
from allauth.mfa.utils import decrypt


def spend_activation_code(*, authenticator: Authenticator, **_: Any) -> None:
    """``allauth.mfa.signals.authenticator_added`` receiver."""
    if authenticator.type != Authenticator.Type.TOTP:
        return
    secret = decrypt(authenticator.data["secret"])
    wrapped = totp.TOTP(authenticator)
    for counter in totp.yield_hotp_counters_from_time():
        wrapped._mark_code_used(totp.format_hotp_value(totp.hotp_value(secret, counter)))
