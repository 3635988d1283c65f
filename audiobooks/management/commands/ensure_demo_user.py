from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD, DemoAccountRefused
from audiobooks import prices
from audiobooks.operators.demo import demo_account_ensure


class Command(BaseCommand):
    help = (
        "Create the local demo account (a superuser with a known password and a verified address, "
        "holding the credits to convert the whole sample book) or restore its password; safe to run "
        "repeatedly, and the credits are granted once. For local installs only: production settings refuse."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args: Any, email: str, password: str, **options: Any) -> None:
        try:
            demo = demo_account_ensure(email=email, password=password)
        except DemoAccountRefused as error:
            raise CommandError(str(error)) from None
        state = "created" if demo.created else "already present"
        self.stdout.write(
            f"Demo account {demo.user.email} {state}, {prices.amount(demo.balance_hundredths).with_audio}."
        )
