from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from allauth.mfa.signals import authenticator_added
        from allauth.socialaccount.models import SocialToken
        from django.db.models.signals import pre_save

        from . import checks  # noqa: F401 (registers the deploy check on the demo account)
        from .oauth_tokens import encrypt_social_token
        from .totp import spend_activation_code

        pre_save.connect(encrypt_social_token, sender=SocialToken, dispatch_uid="accounts.encrypt_token")
        authenticator_added.connect(spend_activation_code, dispatch_uid="accounts.spend_activation_code")
