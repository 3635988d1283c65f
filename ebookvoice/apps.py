"""The project's own app: operations glue that belongs to no one domain app.

It holds no models. On start it connects the Celery signals that put the
conversion id on worker logs and gives any model that has no admin yet a
read-only one; after ``migrate`` it creates the feature switches and flags
staff manage in the admin.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EbookvoiceConfig(AppConfig):
    name = "ebookvoice"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.apps import apps

        from . import admin_fallback, flags, logs

        logs.connect_celery_signals()
        # The admin app discovered every admin module already (it is first in INSTALLED_APPS).
        admin_fallback.register_unregistered()
        # post_migrate is sent only for apps with models, so once for waffle's, after every migration.
        post_migrate.connect(
            flags.ensure_defaults, sender=apps.get_app_config("waffle"), dispatch_uid="ebv-flags-defaults"
        )
