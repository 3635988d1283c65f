"""The credits ledger: one balance row per user and an append-only list of entries.

Writes go through ``credits.services`` only. The balance row is the figure
that is locked and checked; the entries are the history that explains it, and
``manage.py audit_credits`` proves the two agree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .errors import LedgerIsAppendOnly
from .pricing import describe_credits, format_credits


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PREMIUM = "premium", "Premium"


class CreditAccount(models.Model):
    """A user's balance and plan, locked with ``select_for_update`` for every ledger write.

    Created on the first ledger write (or by ``credit_account_ensure``); a user
    without one has a balance of 0 on the free plan.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="credit_account",
    )
    # Hundredths of a credit (``credits.pricing``), as every amount in the ledger.
    balance = models.IntegerField(default=0, help_text="In hundredths of a credit.")
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    # Hundredths of a credit a refunded or disputed purchase took back after they were spent: owed
    # until a later purchase or grant pays it (``credits.services``), and new conversions wait.
    shortfall = models.IntegerField(
        default=0, help_text="In hundredths of a credit; owed, blocks conversions."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The last line of defence: even a write that skips the services
            # cannot leave a negative balance.
            models.CheckConstraint(condition=Q(balance__gte=0), name="credits_account_balance_not_negative"),
            models.CheckConstraint(condition=Q(plan__in=Plan.values), name="credits_account_plan_valid"),
            models.CheckConstraint(
                condition=Q(shortfall__gte=0), name="credits_account_shortfall_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({describe_credits(self.balance)}, {self.get_plan_display()})"


class EntryKind(models.TextChoices):
    SIGNUP_GRANT = "signup_grant", "Signup grant"
    PURCHASE = "purchase", "Purchase"
    STAFF_GRANT = "staff_grant", "Staff grant"
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"
    PURCHASE_REVERSAL = "purchase_reversal", "Purchase reversal"


CREDITING_KINDS = (EntryKind.SIGNUP_GRANT, EntryKind.PURCHASE, EntryKind.STAFF_GRANT)


class CreditEntry(models.Model):
    """One movement of credits. Never changed or deleted: a correction is a new entry.

    ``amount`` is signed (a charge is negative) and ``balance_after`` is the
    balance once this entry was applied, both in hundredths of a credit
    (migration 0003 turned the whole credits before it into hundredths). ``idempotency_key`` is unique, so a
    replayed write finds the entry it already made instead of moving money
    again. When a user is deleted their entries stay, with ``user`` set to
    null: the history, and the signup key that stops a second free grant to
    the same address, outlive the account. A PostgreSQL trigger (migration
    0002) refuses any other UPDATE and every DELETE.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="credit_entries",
    )
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    amount = models.IntegerField(help_text="In hundredths of a credit; a charge is negative.")
    balance_after = models.IntegerField(help_text="In hundredths of a credit.")
    reason = models.CharField(max_length=500, blank=True)
    # The staff member who made a grant or adjustment; null for the system.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credit_entries_made",
    )
    # The audiobooks Conversion this entry pays for or refunds, by its uuid:
    # credits never imports audiobooks.
    conversion_uuid = models.UUIDField(null=True, blank=True, db_index=True)
    # The pricing basis, kept so a refund uses the rate of its charge even if
    # the setting changed since: characters charged for (charge) or rendered
    # (refund), and the characters per credit in force.
    characters = models.PositiveBigIntegerField(null=True, blank=True)
    chars_per_credit = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "credit entries"
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "id"], name="credits_entry_user_id_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="credits_entry_balance_after_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=CREDITING_KINDS, amount__gt=0)
                    | Q(kind=EntryKind.CHARGE, amount__lt=0)
                    # A refund of 0 is recorded: it marks the conversion settled.
                    | Q(kind=EntryKind.REFUND, amount__gte=0)
                    | (Q(kind=EntryKind.ADJUSTMENT) & ~Q(amount=0))
                    # A refunded or disputed purchase takes back what is left of it; 0 when all
                    # of it was spent (the rest is the account's shortfall).
                    | Q(kind=EntryKind.PURCHASE_REVERSAL, amount__lte=0)
                ),
                name="credits_entry_amount_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=(EntryKind.CHARGE, EntryKind.REFUND))
                | Q(conversion_uuid__isnull=False, characters__isnull=False, chars_per_credit__isnull=False),
                name="credits_entry_conversion_entries_have_pricing",
            ),
        ]

    def __str__(self) -> str:
        sign = "+" if self.amount >= 0 else "-"
        owner = self.user or "a deleted user"
        return f"{self.get_kind_display()} {sign}{format_credits(abs(self.amount))} for {owner}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerIsAppendOnly(
                f"Credit entry {self.pk} cannot be changed; record a correction as a new entry."
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise LedgerIsAppendOnly(f"Credit entry {self.pk} cannot be deleted; the ledger is append-only.")
