from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import encryption_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value (TOTP secrets, recovery-code seeds, stored OAuth "
        "tokens) under the newest key in FERNET_KEYS. Put the new key first, run this, then "
        "drop the old key. Safe to repeat; one transaction, so a value no key can decrypt "
        "changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = encryption_keys_rotate()
        self.stdout.write(
            f"Re-encrypted {report.rotated} values under the newest key; "
            f"{report.already_current} were already under it."
        )
