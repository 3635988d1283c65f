"""DRF authentication by allauth's app session token (``X-Session-Token``).

The token is what the headless API hands an app at sign-in, so every API
request is tied to a session that went through allauth's flows, limits and
MFA, appears in the user's session list, and ends when it is revoked there.
"""

from __future__ import annotations

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from rest_framework.request import Request

HEADER = "X-Session-Token"


class SessionTokenAuthentication(XSessionTokenAuthentication):
    def authenticate_header(self, request: Request) -> str:
        # Naming a scheme makes DRF answer 401 (not 403) to a missing or
        # unknown token, so an app knows to sign in again.
        return HEADER
