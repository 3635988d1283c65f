from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from credits.pricing import describe_balance, describe_credits, parse_credits
from credits.services import credits_grant, credits_grant_by_system


def _user_by_email(email: str, *, what: str) -> User:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise CommandError(f"There is no {what} with the email address {email!r}.")
    return user


class Command(BaseCommand):
    help = (
        "Give AMOUNT credits (above 0, to the hundredth: 2.5 is two and a half) to the user with the "
        "email address EMAIL "
        "(any case), as a staff grant in the ledger, with --reason recorded on the entry. The "
        "entry's actor is the staff member named by --actor, who must be an active staff account; "
        "without --actor it is the system (no actor), since whoever runs this command on a server "
        "is trusted already. Each run grants again: it is not idempotent. Prints one line: what "
        "was granted, the entry's id and the new balance, with the audio it buys in the default voice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", metavar="EMAIL", help="the email address of the user to credit")
        parser.add_argument(
            "amount", metavar="AMOUNT", help="how many credits, e.g. 3 or 2.5 (to the hundredth)"
        )
        parser.add_argument(
            "--reason",
            required=True,
            help="why, in a few words; kept on the ledger entry and shown in the admin",
        )
        parser.add_argument(
            "--actor",
            metavar="STAFF_EMAIL",
            help="the staff member making the grant, recorded on the entry (default: the system)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            hundredths = parse_credits(options["amount"])
        except ValueError as error:
            raise CommandError(
                f"AMOUNT must be a number of credits above 0, to the hundredth: {error}"
            ) from None
        reason: str = options["reason"].strip()
        if hundredths <= 0:
            raise CommandError(f"AMOUNT must be a number of credits above 0, not {options['amount']}.")
        if not reason:
            raise CommandError(
                "--reason must say why the credits are granted; it is kept on the ledger entry."
            )
        user = _user_by_email(options["email"], what="user")
        if options["actor"]:
            actor = _user_by_email(options["actor"], what="staff member")
            try:
                entry = credits_grant(user=user, hundredths=hundredths, actor=actor, reason=reason)
            except PermissionDenied as error:
                raise CommandError(f"{actor.email} cannot grant credits: {error}") from error
            by = actor.email
        else:
            entry = credits_grant_by_system(user=user, hundredths=hundredths, reason=reason)
            by = "the system"
        self.stdout.write(
            f"Granted {describe_credits(hundredths)} to {user.email} by {by} "
            f"(entry {entry.pk}, reason {reason!r}); balance now {describe_balance(entry.balance_after)}."
        )
