"""Reads of the credits app: a user's own balance, history and quote; quota checks; the audit.

Everything a user can see is fetched by ``user``, never by an id alone, so one
user can never read another's ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import QuerySet

from . import conf
from .errors import OverStorageQuota, StorageQuotaExceeded, UploadTooLarge
from .models import CreditAccount, CreditEntry, Plan
from .pricing import format_credits, quote_hundredths

if TYPE_CHECKING:
    from uuid import UUID

    from accounts.models import User


def credit_balance_get(*, user: User) -> int:
    """The user's balance in hundredths of a credit."""
    balance = CreditAccount.objects.filter(user=user).values_list("balance", flat=True).first()
    return balance or 0


def credit_plan_get(*, user: User) -> Plan:
    plan = CreditAccount.objects.filter(user=user).values_list("plan", flat=True).first()
    return Plan(plan) if plan else Plan.FREE


def credit_entries_list(*, user: User) -> QuerySet[CreditEntry]:
    """The user's own ledger, newest first."""
    return CreditEntry.objects.filter(user=user).select_related("actor").order_by("-id")


def conversion_refund_hundredths(*, conversion_uuid: UUID) -> int | None:
    """What was refunded for a conversion (hundredths), or None when it was never refunded."""
    return (
        CreditEntry.objects.filter(idempotency_key=f"refund:{conversion_uuid}")
        .values_list("amount", flat=True)
        .first()
    )


@dataclass(frozen=True)
class ConversionQuote:
    """A price and the balance to pay it from, both in hundredths of a credit."""

    characters: int
    cost_hundredths: int
    balance_hundredths: int

    @property
    def affordable(self) -> bool:
        return self.cost_hundredths <= self.balance_hundredths

    @property
    def shortfall_hundredths(self) -> int:
        return max(0, self.cost_hundredths - self.balance_hundredths)


def conversion_quote(
    *, user: User, characters: int, balance_hundredths: int | None = None
) -> ConversionQuote:
    """What converting ``characters`` would cost this user, shown before they submit.

    ``balance_hundredths`` saves a query when the caller has just read the balance.
    """
    return ConversionQuote(
        characters=characters,
        cost_hundredths=quote_hundredths(characters),
        balance_hundredths=credit_balance_get(user=user)
        if balance_hundredths is None
        else balance_hundredths,
    )


# --- Quotas -------------------------------------------------------------------------
# storage_used_bytes is passed in: storage (issue 8) owns that figure. Each
# check raises before anything is written or charged.


def storage_quota_get(*, user: User) -> int:
    return conf.storage_quota_bytes(credit_plan_get(user=user))


def storage_quota_check(
    *, user: User, additional_bytes: int, storage_used_bytes: int, what: str, size_cap: int | None = None
) -> None:
    """Refuse ``additional_bytes`` more storage when it would go over the user's plan quota.

    ``what`` names the thing in the message: "upload", "conversion". With
    ``size_cap``, a single file over it is refused too (after being over the
    quota, which is what the reader has to fix first).
    """
    plan = credit_plan_get(user=user)
    quota = conf.storage_quota_bytes(plan)
    if storage_used_bytes > quota:
        # Only a plan that ended leaves someone over (every write was checked against the quota
        # of its day): the files stay, and only what adds more waits.
        raise OverStorageQuota(used_bytes=storage_used_bytes, quota_bytes=quota, plan_label=plan.label)
    if size_cap is not None and additional_bytes > size_cap:
        raise UploadTooLarge(size_bytes=additional_bytes, limit_bytes=size_cap)
    free = max(0, quota - storage_used_bytes)
    if additional_bytes > free:
        raise StorageQuotaExceeded(
            needed_bytes=additional_bytes,
            free_bytes=free,
            quota_bytes=quota,
            plan_label=plan.label,
            what=what,
        )


def upload_check(*, user: User, size_bytes: int, storage_used_bytes: int) -> None:
    """Refuse an upload over the size cap or over the user's storage quota."""
    storage_quota_check(
        user=user,
        additional_bytes=size_bytes,
        storage_used_bytes=storage_used_bytes,
        what="upload",
        size_cap=conf.max_upload_bytes(),
    )


def conversion_storage_check(*, user: User, estimated_bytes: int, storage_used_bytes: int) -> None:
    """Refuse a conversion whose deliverables (estimated by the pipeline) would go over the quota."""
    storage_quota_check(
        user=user, additional_bytes=estimated_bytes, storage_used_bytes=storage_used_bytes, what="conversion"
    )


# --- Audit --------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerMismatch:
    user_id: int
    email: str
    problem: str

    def __str__(self) -> str:
        return f"{self.email} (user {self.user_id}): {self.problem}"


@dataclass
class LedgerAudit:
    accounts: int = 0
    entries: int = 0
    mismatches: list[LedgerMismatch] = field(default_factory=list)


def ledger_audit() -> LedgerAudit:
    """Every disagreement between balances and entries, and how much was checked.

    For each user with an account or entries: each ``balance_after`` must be
    the running sum of that user's entries in id order, and the balance must
    be their total. Entries of deleted users (user null) have no balance to
    check. Entries are streamed, one user after another. Messages say credits
    (hundredths shown as two decimals).
    """
    if connection.in_atomic_block:  # the caller's transaction decides what is seen
        return _ledger_audit()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One snapshot for both queries, so a charge committed between
            # reading balances and reading entries is not reported.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _ledger_audit()


def _ledger_audit() -> LedgerAudit:
    audit = LedgerAudit()
    accounts = {
        user_id: (balance, email)
        for user_id, balance, email in CreditAccount.objects.values_list("user_id", "balance", "user__email")
    }
    audit.accounts = len(accounts)
    problems = audit.mismatches
    seen: set[int] = set()

    def close(user_id: int, email: str, total: int) -> None:
        if user_id not in accounts:
            problems.append(
                LedgerMismatch(
                    user_id, email, f"entries sum to {format_credits(total)} but there is no balance row"
                )
            )
        elif accounts[user_id][0] != total:
            balance = accounts[user_id][0]
            problems.append(
                LedgerMismatch(
                    user_id,
                    email,
                    f"balance is {format_credits(balance)} but entries sum to {format_credits(total)}",
                )
            )

    entries = (
        CreditEntry.objects.filter(user__isnull=False)
        .order_by("user_id", "id")
        .values_list("id", "user_id", "user__email", "amount", "balance_after")
        .iterator(chunk_size=2000)
    )
    current: tuple[int, str] | None = None
    running = 0
    for entry_id, user_id, email, amount, balance_after in entries:
        audit.entries += 1
        if current is None or current[0] != user_id:
            if current is not None:
                close(*current, running)
            current, running = (user_id, email), 0
            seen.add(user_id)
        running += amount
        if balance_after != running:
            problems.append(
                LedgerMismatch(
                    user_id,
                    email,
                    f"entry {entry_id} has balance_after {format_credits(balance_after)}, "
                    f"running sum is {format_credits(running)}",
                )
            )
    if current is not None:
        close(*current, running)

    for user_id, (balance, email) in sorted(accounts.items()):
        if user_id not in seen and balance != 0:
            problems.append(
                LedgerMismatch(
                    user_id, email, f"balance is {format_credits(balance)} but there are no entries"
                )
            )
    return audit
