from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from accounts.signals import user_deleting, user_exporting

        from . import checks, conf, receivers  # checks registers the settings check

        del checks
        user_deleting.connect(receivers.cancel_subscriptions_on_deleting, dispatch_uid="billing-cancel")
        user_exporting.connect(receivers.export_payments, dispatch_uid="billing-export")
        if getattr(settings, "BILLING_REFUSE_PROBLEMS", False) and (
            problems := conf.configuration_problems()
        ):
            raise ImproperlyConfigured("Billing settings refused: " + "; ".join(problems))
