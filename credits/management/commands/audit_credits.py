from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from credits.errors import plural
from credits.selectors import ledger_audit


class Command(BaseCommand):
    help = (
        "Check the credits ledger against the balances: for every user, each entry's balance_after "
        "must equal the running sum of their entries in order, and their balance must equal the sum "
        "of all their entries. Prints one line per mismatch and a summary; exits with status 1 if "
        "anything disagrees. Reads one consistent snapshot and changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        audit = ledger_audit()
        for mismatch in audit.mismatches:
            self.stdout.write(f"MISMATCH {mismatch}")
        summary = (
            f"Audited {plural(audit.accounts, 'account')} and {plural(audit.entries, 'entry')}: "
            f"{plural(len(audit.mismatches), 'mismatch')}."
        )
        if audit.mismatches:
            raise CommandError(summary)
        self.stdout.write(summary)
