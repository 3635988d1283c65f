"""Every movement of credits, and nothing else writes the ledger.

How a write stays exact under concurrency (see ``_ledger_append``):

1. The user's ``CreditAccount`` row is locked with ``select_for_update``. All
   writes for one user queue here, so the balance read under the lock is the
   balance, and an idempotency key written by a writer that went first is
   seen by the one that waited (PostgreSQL READ COMMITTED takes a new snapshot
   for each statement).
2. A key already in the ledger returns its entry; no money moves.
3. A new entry goes in inside a savepoint. Should the same key be written
   concurrently for another user's account (the only race the lock cannot
   order), the unique index refuses the loser, which then answers as a replay.
4. The balance moves with ``F()`` in the same transaction, under
   ``CHECK (balance >= 0)``.

Every amount is an integer number of hundredths of a credit (``credits.pricing``):
the ledger's ``amount``, ``balance_after`` and the balance are all in that unit.

Each service is ``@transaction.atomic``: called alone it owns its
transaction; called from a larger workflow (submitting a conversion) it joins
that one, so the charge and the Conversion commit or roll back together.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import conf
from .errors import ChargeNotFound, IdempotencyConflict, InsufficientCredits, NothingToConvert, ShortfallOwed
from .models import CreditAccount, CreditEntry, EntryKind, Plan
from .pricing import describe_credits, hundredths_from_credits, quote_hundredths, refund_hundredths

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# Providers that deliver mail for an address whatever dots its local part has.
_DOT_BLIND_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def charge_key(conversion_uuid: uuid.UUID) -> str:
    return f"charge:{conversion_uuid}"


def refund_key(conversion_uuid: uuid.UUID) -> str:
    return f"refund:{conversion_uuid}"


def normalise_email_for_grant(email: str) -> str:
    """The mailbox an address reaches, for the once-per-address signup grant.

    Lower-cased, without a ``+tag``, and for Gmail without dots, so
    ``Reader.Name+2@googlemail.com`` and ``readername@gmail.com`` share one
    grant. This affects only the free grant, never sign-in.
    """
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _DOT_BLIND_DOMAINS:
        domain = _DOT_BLIND_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def signup_grant_key(email: str) -> str:
    # A keyed digest, not the address: the entry outlives a deleted account and
    # must not keep its email in the clear, nor a plain hash anyone could test
    # a guessed address against.
    digest = salted_hmac(
        "credits.signup-grant", normalise_email_for_grant(email), algorithm="sha256"
    ).hexdigest()
    return f"signup:{digest}"


def credit_account_ensure(*, user: User) -> None:
    """Make the user's balance row exist; safe to race (INSERT … ON CONFLICT DO NOTHING)."""
    CreditAccount.objects.bulk_create([CreditAccount(user=user)], ignore_conflicts=True)


def _ledger_append(
    *,
    user: User,
    kind: EntryKind,
    amount: int,
    idempotency_key: str,
    reason: str = "",
    actor: User | None = None,
    conversion_uuid: uuid.UUID | None = None,
    characters: int | None = None,
    chars_per_credit: int | None = None,
    insufficient_message: str | None = None,
) -> tuple[CreditEntry, bool]:
    """Apply one entry to the user's balance; return it and whether it is new.

    Must run inside a transaction (every public service is atomic).
    """
    account = CreditAccount.objects.select_for_update().filter(user=user).first()
    if account is None:
        credit_account_ensure(user=user)
        account = CreditAccount.objects.select_for_update().get(user=user)

    existing = CreditEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replayed(existing, user=user, kind=kind), False

    balance_after = account.balance + amount
    if balance_after < 0:
        raise InsufficientCredits(needed=-amount, available=account.balance, message=insufficient_message)

    try:
        with transaction.atomic():
            entry = CreditEntry.objects.create(
                user=user,
                kind=kind,
                amount=amount,
                balance_after=balance_after,
                reason=reason,
                actor=actor,
                conversion_uuid=conversion_uuid,
                characters=characters,
                chars_per_credit=chars_per_credit,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        existing = CreditEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replayed(existing, user=user, kind=kind), False

    CreditAccount.objects.filter(pk=account.pk).update(
        balance=F("balance") + amount, updated_at=timezone.now()
    )
    logger.info(
        "credits: %s %+d for user %s (key %s), balance %d",
        kind,
        amount,
        user.pk,
        idempotency_key,
        balance_after,
    )
    return entry, True


def _replayed(entry: CreditEntry, *, user: User, kind: EntryKind) -> CreditEntry:
    # A key names one movement for one user. The first write wins: a replay
    # with another amount (a refund computed later, a changed setting) gets
    # the entry that was made.
    if entry.user_id != user.pk or entry.kind != kind:
        raise IdempotencyConflict(
            f"Idempotency key {entry.idempotency_key!r} already belongs to a {entry.kind} entry "
            f"of user {entry.user_id}."
        )
    return entry


def _require_staff(actor: User) -> None:
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only staff can grant or adjust credits.")


@transaction.atomic
def credits_grant_signup(*, user: User, email: str | None = None) -> CreditEntry | None:
    """Give the free signup credits, once per email address; call when an address is verified.

    ``email`` is the address just verified (default: the user's). Returns the
    grant (new, or the one this user already had), or None when the address
    already earned its grant on another account, including a deleted one.
    """
    address = email or user.email
    try:
        entry, _ = _ledger_append(
            user=user,
            kind=EntryKind.SIGNUP_GRANT,
            amount=hundredths_from_credits(conf.signup_grant()),
            idempotency_key=signup_grant_key(address),
            reason="Welcome credits for a verified email address",
        )
    except IdempotencyConflict:
        logger.info("credits: no signup grant for user %s, the address already had one", user.pk)
        return None
    return entry


@transaction.atomic
def credits_grant(
    *, user: User, hundredths: int, actor: User, reason: str, idempotency_key: str | None = None
) -> CreditEntry:
    """A staff member gives ``hundredths`` of a credit. ``idempotency_key`` lets a form make double
    submits harmless."""
    _require_staff(actor)
    return _grant(
        user=user, hundredths=hundredths, actor=actor, reason=reason, idempotency_key=idempotency_key
    )


@transaction.atomic
def credits_grant_by_system(
    *, user: User, hundredths: int, reason: str, idempotency_key: str | None = None
) -> CreditEntry:
    """A grant by the system, recorded with no actor: for ``manage.py grant_credits`` only.

    Whoever can run a management command on a server already holds every key
    (``manage.py shell`` could write the ledger directly), so that access is
    the authorisation. Web code never calls this: it uses ``credits_grant``,
    which requires a staff actor.
    """
    return _grant(
        user=user, hundredths=hundredths, actor=None, reason=reason, idempotency_key=idempotency_key
    )


def _grant(
    *, user: User, hundredths: int, actor: User | None, reason: str, idempotency_key: str | None
) -> CreditEntry:
    if hundredths <= 0:
        raise ValueError("A grant must be a positive amount of credits.")
    if not reason.strip():
        raise ValueError("A grant needs a reason.")
    entry, created = _ledger_append(
        user=user,
        kind=EntryKind.STAFF_GRANT,
        amount=hundredths,
        idempotency_key=idempotency_key or f"grant:{uuid.uuid4()}",
        reason=reason.strip(),
        actor=actor,
    )
    if created:
        _shortfall_settle(user=user, source_key=entry.idempotency_key)
    return entry


@transaction.atomic
def credits_adjust(
    *, user: User, hundredths: int, actor: User, reason: str, idempotency_key: str | None = None
) -> CreditEntry:
    """A staff correction of ``hundredths``, positive or negative; it cannot take the balance below zero."""
    _require_staff(actor)
    if hundredths == 0:
        raise ValueError("An adjustment must change the balance.")
    if not reason.strip():
        raise ValueError("An adjustment needs a reason.")
    entry, _ = _ledger_append(
        user=user,
        kind=EntryKind.ADJUSTMENT,
        amount=hundredths,
        idempotency_key=idempotency_key or f"adjust:{uuid.uuid4()}",
        reason=reason.strip(),
        actor=actor,
        insufficient_message=(
            f"This adjustment removes {describe_credits(-hundredths)}, more than the balance allows."
        ),
    )
    return entry


@transaction.atomic
def credits_purchase(*, user: User, hundredths: int, payment_reference: str, reason: str = "") -> CreditEntry:
    """Credit a completed payment of ``hundredths``, once per ``payment_reference`` (the provider's id),
    so webhook retries are harmless."""
    if hundredths <= 0:
        raise ValueError("A purchase must be a positive number of credits.")
    if not payment_reference:
        raise ValueError("A purchase needs the payment provider's reference.")
    entry, created = _ledger_append(
        user=user,
        kind=EntryKind.PURCHASE,
        amount=hundredths,
        idempotency_key=purchase_key(payment_reference),
        reason=reason or f"Purchase {payment_reference}",
    )
    if created:
        _shortfall_settle(user=user, source_key=entry.idempotency_key)
    return entry


def purchase_key(payment_reference: str) -> str:
    return f"purchase:{payment_reference}"


@transaction.atomic
def credits_purchase_reverse(*, user: User, hundredths: int, reference: str, reason: str) -> CreditEntry:
    """Take back ``hundredths`` of a refunded or disputed purchase, once per ``reference``.

    What the balance still holds is deducted (a ``purchase_reversal`` entry,
    never below zero); the rest was spent, and is added to the account's
    ``shortfall``, which blocks new conversions until a later purchase or
    grant pays it. A replay returns the first entry and changes nothing.
    """
    if hundredths <= 0:
        raise ValueError("A reversal must take back a positive amount.")
    if not reference:
        raise ValueError("A reversal needs the payment provider's reference.")
    account = CreditAccount.objects.select_for_update().filter(user=user).first()
    balance = account.balance if account else 0
    taken = min(hundredths, balance)
    owed = hundredths - taken
    note = f"; {describe_credits(owed)} already spent is owed" if owed else ""
    entry, created = _ledger_append(
        user=user,
        kind=EntryKind.PURCHASE_REVERSAL,
        amount=-taken,
        idempotency_key=f"reversal:{reference}",
        reason=f"{reason}{note}"[:500],
    )
    if created and owed:
        CreditAccount.objects.filter(user=user).update(
            shortfall=F("shortfall") + owed, updated_at=timezone.now()
        )
        logger.info("credits: user %s owes %d after reversal %s", user.pk, owed, reference)
    return entry


def _shortfall_settle(*, user: User, source_key: str) -> None:
    """Pay what the account owes from the credits just added (inside the caller's transaction and lock)."""
    account = CreditAccount.objects.select_for_update().get(user=user)
    paid = min(account.shortfall, account.balance)
    if paid <= 0:
        return
    _ledger_append(
        user=user,
        kind=EntryKind.PURCHASE_REVERSAL,
        amount=-paid,
        idempotency_key=f"settle:{source_key}",
        reason=f"Pays {describe_credits(paid)} owed from a refunded or disputed payment",
    )
    CreditAccount.objects.filter(user=user).update(shortfall=F("shortfall") - paid, updated_at=timezone.now())


@transaction.atomic
def credits_shortfall_waive(*, user: User, actor: User, reason: str) -> int:
    """Staff forgive what the account owes (say, the dispute was won); returns the hundredths waived."""
    _require_staff(actor)
    if not reason.strip():
        raise ValueError("Waiving a shortfall needs a reason.")
    account = CreditAccount.objects.select_for_update().filter(user=user).first()
    if account is None or account.shortfall == 0:
        return 0
    waived = account.shortfall
    CreditAccount.objects.filter(user=user).update(shortfall=0, updated_at=timezone.now())
    logger.info("credits: %d owed by user %s waived by %s: %s", waived, user.pk, actor.pk, reason.strip())
    return waived


@transaction.atomic
def conversion_charge(*, user: User, conversion_uuid: uuid.UUID, characters: int) -> CreditEntry:
    """Charge for a conversion at submission, once per conversion (key ``charge:<uuid>``): one
    hundredth of a credit per started 500 characters (``pricing.quote_hundredths``).

    Raises ``NothingToConvert`` for no text and ``InsufficientCredits`` when
    the balance is short, before anything is written. A replay returns the
    first charge, even if the balance has been spent since.
    """
    if characters <= 0:
        raise NothingToConvert()
    owed = CreditAccount.objects.filter(user=user).values_list("shortfall", flat=True).first()
    if owed and not CreditEntry.objects.filter(idempotency_key=charge_key(conversion_uuid)).exists():
        raise ShortfallOwed(owed=owed)
    rate = conf.chars_per_credit()
    cost = quote_hundredths(characters, chars_per_credit=rate)
    entry, _ = _ledger_append(
        user=user,
        kind=EntryKind.CHARGE,
        amount=-cost,
        idempotency_key=charge_key(conversion_uuid),
        reason=f"Conversion of {characters:,} characters",
        conversion_uuid=conversion_uuid,
        characters=characters,
        chars_per_credit=rate,
    )
    return entry


@transaction.atomic
def conversion_refund(*, conversion_uuid: uuid.UUID, rendered_characters: int) -> CreditEntry:
    """Give back the unrendered share of a cancelled or failed conversion, exactly once.

    Refund = charge − floor(rendered × 100 ÷ rate) hundredths, at the rate of the charge. It is
    recorded under ``refund:<uuid>`` even when it is 0, which marks the
    conversion settled; a second call (cancel, then failure, then the reaper)
    returns that first entry and moves nothing.
    """
    charge = (
        CreditEntry.objects.select_related("user")
        .filter(idempotency_key=charge_key(conversion_uuid), user__isnull=False)
        .first()
    )
    if charge is None or charge.user is None or charge.chars_per_credit is None:
        raise ChargeNotFound(f"Conversion {conversion_uuid} has no charge on a live account.")
    amount = refund_hundredths(
        charged_hundredths=-charge.amount,
        rendered_characters=max(0, rendered_characters),
        chars_per_credit=charge.chars_per_credit,
    )
    entry, _ = _ledger_append(
        user=charge.user,
        kind=EntryKind.REFUND,
        amount=amount,
        idempotency_key=refund_key(conversion_uuid),
        reason=f"Refund: {rendered_characters:,} of {charge.characters or 0:,} characters rendered",
        conversion_uuid=conversion_uuid,
        characters=max(0, rendered_characters),
        chars_per_credit=charge.chars_per_credit,
    )
    return entry


@transaction.atomic
def credit_account_plan_set(*, user: User, plan: Plan, actor: User | None = None) -> None:
    """Move a user to another plan. Touches only ``plan``: the balance is never written back."""
    if plan not in Plan.values:
        raise ValueError(f"Unknown plan {plan!r}.")
    credit_account_ensure(user=user)
    CreditAccount.objects.filter(user=user).update(plan=plan, updated_at=timezone.now())
    logger.info("credits: user %s moved to plan %s by %s", user.pk, plan, actor.pk if actor else "the system")
