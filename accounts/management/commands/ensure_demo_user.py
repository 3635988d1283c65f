from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from accounts.services import demo_user_ensure


class Command(BaseCommand):
    help = (
        "Create the local demo account (staff, with a known password) or reset its "
        "password; safe to run repeatedly. For local installs only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args: Any, email: str, password: str, **options: Any) -> None:
        user, created = demo_user_ensure(email=email, password=password)
        state = "created" if created else "already present"
        self.stdout.write(f"Demo account {user.email} {state}.")
