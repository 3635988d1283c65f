"""OAuth tokens (allauth's ``SocialToken``) are stored encrypted.

allauth stores provider tokens only when ``SOCIALACCOUNT_STORE_TOKENS`` is on
(eBookVoice only needs Google to say who someone is, so it is off). When they
are stored, a ``pre_save`` receiver encrypts them on the way into the
database; ``social_token_read`` gives them back in the clear. allauth has no
adapter hook for token storage, so this receiver is the narrowest place.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialToken

from . import crypto


def _encrypted(value: str) -> str:
    if not value or crypto.is_encrypted(value):
        return value
    return crypto.encrypt(value)


def encrypt_social_token(sender: type[SocialToken], instance: SocialToken, **kwargs: Any) -> None:
    instance.token = _encrypted(instance.token)
    instance.token_secret = _encrypted(instance.token_secret)


def social_token_read(token: SocialToken) -> tuple[str, str]:
    """The access token and the refresh token (or OAuth1 secret), in the clear."""
    secret = crypto.decrypt(token.token_secret) if token.token_secret else ""
    return crypto.decrypt(token.token), secret
