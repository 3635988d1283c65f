from __future__ import annotations

from django.apps import AppConfig


class CreditsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "credits"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed, user_signed_up

        from accounts.signals import user_exporting

        from . import receivers

        email_confirmed.connect(receivers.grant_on_email_confirmed, dispatch_uid="credits-signup-grant")
        user_signed_up.connect(receivers.grant_on_verified_signup, dispatch_uid="credits-signup-grant-social")
        user_exporting.connect(receivers.export_ledger, dispatch_uid="credits-export")
