from __future__ import annotations

from django.apps import AppConfig


class AudiobooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audiobooks"

    def ready(self) -> None:
        """Wire this app into what sits below it; nothing below imports this app.

        Account deletion, export and the account page (``accounts``' signals), the conversion id
        on task log lines (``ebookvoice.logs``), and the pipeline's figures on
        ``/metrics`` and ``/status``.
        """
        from django.db.models.signals import pre_delete

        from accounts.models import User
        from accounts.signals import account_page_building, user_exporting
        from ebookvoice import logs, metrics, status

        from . import selectors
        from .operators.metrics import pipeline_metrics
        from .operators.stats import status_figures
        from .signals import account_page_usage, user_books_export, user_storage_delete_on_commit

        pre_delete.connect(
            user_storage_delete_on_commit, sender=User, dispatch_uid="audiobooks.user_storage_delete"
        )
        user_exporting.connect(user_books_export, dispatch_uid="audiobooks.user_books_export")
        account_page_building.connect(account_page_usage, dispatch_uid="audiobooks.account_page_usage")
        logs.register_conversion_resolver("audiobooks.synthesize_part", selectors.conversion_uuid_of_part)
        logs.register_conversion_resolver(
            "audiobooks.master_chapter", selectors.conversion_uuid_of_conversion_chapter
        )
        logs.register_conversion_resolver("audiobooks.assemble_book", selectors.conversion_uuid_of)
        metrics.register_database_figures(pipeline_metrics)
        status.register_status_figures(status_figures)
