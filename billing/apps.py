from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from . import checks, conf  # checks registers the settings check

        del checks
        if getattr(settings, "BILLING_REFUSE_PROBLEMS", False) and (
            problems := conf.configuration_problems()
        ):
            raise ImproperlyConfigured("Billing settings refused: " + "; ".join(problems))
