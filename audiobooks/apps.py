from __future__ import annotations

from django.apps import AppConfig


class AudiobooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audiobooks"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from accounts.models import User
        from accounts.signals import user_exporting

        from .signals import user_books_export, user_storage_delete_on_commit

        pre_delete.connect(
            user_storage_delete_on_commit, sender=User, dispatch_uid="audiobooks.user_storage_delete"
        )
        user_exporting.connect(user_books_export, dispatch_uid="audiobooks.user_books_export")
