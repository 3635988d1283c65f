"""Billing's writes: starting a Checkout, the Customer Portal, staff refunds, and acting on webhooks.

Money moves in one place only: ``stripe_event_process``, for a webhook whose
signature has been checked. The redirect back from Checkout grants nothing.

Each event is handled in one transaction that first records it by its id
(``StripeEvent``). A second delivery of the same event, even at the same
moment, waits on that row's unique index until the first commits, then finds
it and does nothing; should the first fail, its rollback frees the id for the
next delivery. Credits are granted with ``credits_purchase`` keyed by the
payment's own id, so two different events about one payment (the checkout and
a later look at it) still grant once.

Calls to Stripe's API (creating a session, looking up which invoice a refunded
payment paid) happen outside any transaction.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from credits.models import Plan
from credits.pricing import describe_credits
from credits.ratelimits import Action, check_rate_limit
from credits.services import credit_account_plan_set, credits_purchase, credits_purchase_reverse

from . import conf
from .errors import (
    AlreadyPremium,
    BillingOff,
    NoBillingAccount,
    NoReceipt,
    NotRefundable,
    StripeUnavailable,
    UnknownPack,
)
from .models import (
    PREMIUM_STATUSES,
    BillingCustomer,
    Checkout,
    CheckoutKind,
    Payment,
    PaymentKind,
    PaymentStatus,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

HANDLED_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "invoice.paid",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
    "charge.dispute.created",
)


# A reader waits on these calls: seconds, not the library's 80, before a 503 says so.
STRIPE_TIMEOUT_SECONDS = 20


def stripe_client() -> stripe.StripeClient:
    if not conf.enabled():
        raise BillingOff()
    return stripe.StripeClient(
        conf.secret_key(),
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_SECONDS),
    )


def money(amount: int, currency: str) -> str:
    """Minor units as people read them: 1800, "eur" → "18.00 EUR"."""
    return f"{amount / 100:.2f} {currency.upper()}"


# --- Checkout and the portal (called by the web pages and the API) -------------------------------


def _customer_ensure(*, client: stripe.StripeClient, user: User) -> str:
    existing = BillingCustomer.objects.filter(user=user).values_list("stripe_customer_id", flat=True).first()
    if existing:
        return existing
    customer = client.v1.customers.create(
        params={"email": user.email, "metadata": {"user_id": str(user.pk)}},
        # Two first checkouts at once make one customer: Stripe answers the same key with the same object.
        options={"idempotency_key": f"ebookvoice-customer-{user.pk}"},
    )
    BillingCustomer.objects.bulk_create(
        [BillingCustomer(user=user, stripe_customer_id=customer.id)], ignore_conflicts=True
    )
    return BillingCustomer.objects.get(user=user).stripe_customer_id


def checkout_start(
    *,
    user: User,
    pack_key: str | None,
    base_url: str,
    return_path: str = "",
    idempotency_key: str | None = None,
) -> Checkout:
    """Make a Stripe Checkout Session for a pack (``payment`` mode) or, with ``pack_key=None``, premium.

    ``base_url`` is the site as the reader reached it (``https://…/``); Stripe
    sends them back to ``billing/return`` there, which waits for the webhook,
    then to ``return_path`` (a path on this site, say the conversion they were
    choosing). ``idempotency_key`` makes Stripe answer a retried request with
    the session it already made.
    """
    client = stripe_client()
    base = base_url.rstrip("/")
    return_path = return_path if return_path.startswith("/") and not return_path.startswith("//") else ""
    metadata = {"user_id": str(user.pk)}
    params: dict[str, Any]
    if pack_key is None:
        if Subscription.objects.filter(user=user, status__in=PREMIUM_STATUSES).exists():
            raise AlreadyPremium()
        kind, hundredths, price = CheckoutKind.PREMIUM, 0, conf.prices()[conf.PREMIUM]
        metadata["plan"] = conf.PREMIUM
        params = {"mode": "subscription", "subscription_data": {"metadata": metadata}}
    else:
        pack = conf.pack_get(pack_key)
        if pack is None:
            raise UnknownPack(key=pack_key, known=[p.key for p in conf.packs()])
        kind, hundredths, price = CheckoutKind.PACK, pack.hundredths, conf.prices()[pack.key]
        metadata |= {"pack": pack.key, "hundredths": str(pack.hundredths)}
        params = {"mode": "payment", "payment_intent_data": {"metadata": metadata}}
    # Each checkout costs Stripe API calls: a bounded number per reader (a replayed API request
    # with its Idempotency-Key never gets here).
    check_rate_limit(request_or_key=str(user.pk), action=Action.CHECKOUT)
    try:
        customer = _customer_ensure(client=client, user=user)
        session = client.v1.checkout.sessions.create(
            # The mode's own fields are merged in from a plain dict, which the TypedDict cannot follow.
            params={  # type: ignore[arg-type]
                **params,
                "customer": customer,
                "client_reference_id": str(user.pk),
                "line_items": [{"price": price, "quantity": 1}],
                "metadata": metadata,
                "success_url": f"{base}/billing/return?session_id={{CHECKOUT_SESSION_ID}}",
                "cancel_url": f"{base}{return_path or '/credits/'}",
            },
            options={"idempotency_key": f"ebookvoice-checkout-{user.pk}-{idempotency_key}"}
            if idempotency_key
            else {},
        )
    except stripe.StripeError as exc:
        logger.warning("billing: checkout for user %s failed: %s", user.pk, exc)
        raise StripeUnavailable() from exc
    checkout, _ = Checkout.objects.get_or_create(
        stripe_session_id=session.id,
        defaults={
            "user": user,
            "kind": kind,
            "pack_key": pack_key or "",
            "hundredths": hundredths,
            "url": session.url or "",
            "return_path": return_path,
        },
    )
    logger.info("billing: user %s started checkout %s (%s)", user.pk, session.id, pack_key or "premium")
    return checkout


def portal_url(*, user: User, return_url: str) -> str:
    """A Customer Portal session (cancel, change card, invoices) for the reader's Stripe customer."""
    client = stripe_client()
    customer = BillingCustomer.objects.filter(user=user).values_list("stripe_customer_id", flat=True).first()
    if not customer:
        raise NoBillingAccount()
    try:
        session = client.v1.billing_portal.sessions.create(
            params={"customer": customer, "return_url": return_url}
        )
    except stripe.StripeError as exc:
        logger.warning("billing: portal for user %s failed: %s", user.pk, exc)
        raise StripeUnavailable() from exc
    return session.url


def payment_receipt_url(*, payment: Payment) -> str:
    """The payment's receipt or invoice on Stripe; a pack's receipt is looked up once, then kept."""
    if payment.invoice_url:
        return payment.invoice_url
    if payment.receipt_url:
        return payment.receipt_url
    if not payment.stripe_payment_intent_id:
        raise NoReceipt()
    client = stripe_client()
    try:
        intent = client.v1.payment_intents.retrieve(
            payment.stripe_payment_intent_id, params={"expand": ["latest_charge"]}
        )
    except stripe.StripeError as exc:
        raise StripeUnavailable() from exc
    charge = intent.latest_charge
    if isinstance(charge, stripe.Charge) and charge.receipt_url:
        Payment.objects.filter(pk=payment.pk).update(
            receipt_url=charge.receipt_url, stripe_charge_id=charge.id
        )
        return charge.receipt_url
    raise NoReceipt()


def payment_refund(*, payment: Payment, actor: User) -> str:
    """Staff refund a payment in full through Stripe; returns the refund's id.

    Nothing changes here: the refund comes back as ``charge.refunded`` like any
    other, and that webhook takes the credits back.
    """
    if not (actor.is_active and actor.is_staff):
        raise NotRefundable("Only staff can refund a payment.")
    if payment.status == PaymentStatus.REFUNDED:
        raise NotRefundable("This payment has already been refunded in full.")
    client = stripe_client()
    try:
        intent = payment.stripe_payment_intent_id or _invoice_payment_intent(
            client=client, invoice_id=payment.stripe_invoice_id or ""
        )
        if not intent:
            raise NotRefundable("Stripe has no card payment for this invoice to refund.")
        refund = client.v1.refunds.create(
            params={"payment_intent": intent, "metadata": {"refunded_by": str(actor.pk)}},
            options={"idempotency_key": f"ebookvoice-refund-{payment.uuid}"},
        )
    except stripe.StripeError as exc:
        logger.warning("billing: refund of payment %s failed: %s", payment.pk, exc)
        raise StripeUnavailable() from exc
    logger.info("billing: staff %s refunded payment %s (%s)", actor.pk, payment.pk, refund.id)
    return refund.id


def subscription_cancel_now(*, subscription_id: str) -> None:
    """End a subscription at Stripe at once (its reader deleted their account); done already is fine."""
    client = stripe_client()
    try:
        client.v1.subscriptions.cancel(subscription_id)
    except stripe.InvalidRequestError as exc:
        # Stripe answers 404 (resource_missing) for a subscription it has already ended.
        if exc.http_status != 404:
            raise
    logger.info("billing: subscription %s cancelled with its account", subscription_id)


def _invoice_payment_intent(*, client: stripe.StripeClient, invoice_id: str) -> str:
    if not invoice_id:
        return ""
    page = client.v1.invoice_payments.list(params={"invoice": invoice_id, "limit": 1})
    for item in page.data:
        if item.payment.payment_intent:
            intent = item.payment.payment_intent
            return intent if isinstance(intent, str) else intent.id
    return ""


def _invoice_of_payment_intent(*, intent_id: str) -> str:
    """Which invoice a payment intent paid (Stripe's charges no longer name it); empty when none."""
    client = stripe_client()
    page = client.v1.invoice_payments.list(
        params={"payment": {"type": "payment_intent", "payment_intent": intent_id}, "limit": 1}
    )
    for item in page.data:
        invoice = item.invoice
        return invoice if isinstance(invoice, str) else invoice.id
    return ""


# --- Webhooks ----------------------------------------------------------------------------------------


def stripe_event_verify(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The event, once Stripe's signature (``t=…,v1=…``, within five minutes) is proven.

    Raises ``stripe.SignatureVerificationError`` (or ``ValueError`` for a body
    that is not an event); the view answers 400 and nothing changes.
    """
    stripe.Webhook.construct_event(
        payload, signature, conf.webhook_secret(), tolerance=conf.WEBHOOK_TOLERANCE_SECONDS
    )
    # The verified bytes as plain data: the handlers read dicts, whatever Stripe's object classes do.
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise ValueError("not a Stripe event")
    return event


def stripe_event_process(*, event: dict[str, Any]) -> str:
    """Act on a verified event once; returns what was done (kept with the event)."""
    kind = str(event.get("type", ""))
    obj = event.get("data", {}).get("object", {})
    lookups = _lookups_before(kind=kind, obj=obj)
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                StripeEvent.objects.create(
                    id=event["id"],
                    type=kind[:100],
                    livemode=bool(event.get("livemode")),
                    stripe_created=_time(event.get("created")) or timezone.now(),
                )
        except IntegrityError:
            logger.info("billing: event %s (%s) was already handled", event["id"], kind)
            return "already handled"
        handler = HANDLERS.get(kind)
        outcome = (
            handler(obj, _time(event.get("created")) or timezone.now(), lookups) if handler else "ignored"
        )
        StripeEvent.objects.filter(id=event["id"]).update(outcome=outcome[:500])
    logger.info("billing: event %s (%s): %s", event["id"], kind, outcome)
    return outcome


def _lookups_before(*, kind: str, obj: dict[str, Any]) -> dict[str, str]:
    """What an event needs from Stripe's API, fetched before its transaction opens."""
    if kind not in ("charge.refunded", "charge.dispute.created"):
        return {}
    intent = obj.get("payment_intent")
    if not isinstance(intent, str) or Payment.objects.filter(stripe_payment_intent_id=intent).exists():
        return {}
    try:
        return {"invoice": _invoice_of_payment_intent(intent_id=intent)}
    except stripe.StripeError as exc:
        raise StripeUnavailable() from exc


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if isinstance(value, int) else None


def _latest(stamps: list[Any]) -> datetime | None:
    times = [time for time in map(_time, stamps) if time is not None]
    return max(times, default=None)


def _user_for(*, customer: Any, metadata: Any) -> User | None:
    """The user an object is about: by our Stripe customer, else by the metadata our checkout set."""
    if isinstance(customer, str):
        found = BillingCustomer.objects.filter(stripe_customer_id=customer).select_related("user").first()
        if found is not None:
            return found.user
    user_id = (metadata or {}).get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str) and user_id.isdigit():
        user = User.objects.filter(pk=int(user_id)).first()
        if user is not None and isinstance(customer, str):
            BillingCustomer.objects.bulk_create(
                [BillingCustomer(user=user, stripe_customer_id=customer)], ignore_conflicts=True
            )
        return user
    return None


def _plan_sync(*, user: User) -> Plan:
    """Premium while any of the user's subscriptions is; the free plan's limits otherwise."""
    premium = Subscription.objects.filter(user=user, status__in=PREMIUM_STATUSES).exists()
    plan = Plan.PREMIUM if premium else Plan.FREE
    credit_account_plan_set(user=user, plan=plan)
    return plan


def _checkout_completed(session: dict[str, Any], created: datetime, lookups: dict[str, str]) -> str:
    checkout = Checkout.objects.select_for_update().filter(stripe_session_id=session.get("id")).first()
    metadata = session.get("metadata") or {}
    user = checkout.user if checkout else _user_for(customer=session.get("customer"), metadata=metadata)
    if user is None:
        return "ignored: no user for this checkout"
    if isinstance(session.get("customer"), str):
        BillingCustomer.objects.bulk_create(
            [BillingCustomer(user=user, stripe_customer_id=session["customer"])], ignore_conflicts=True
        )
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "waiting for the payment to clear"
    if session.get("mode") == "subscription":
        outcome = _subscription_started(user=user, session=session, created=created)
    else:
        outcome = _pack_paid(user=user, session=session, checkout=checkout)
    if checkout is not None and checkout.completed_at is None:
        checkout.completed_at = timezone.now()
        checkout.save(update_fields=["completed_at"])
    return outcome


def _pack_paid(*, user: User, session: dict[str, Any], checkout: Checkout | None) -> str:
    metadata = session.get("metadata") or {}
    pack_key = checkout.pack_key if checkout else str(metadata.get("pack", ""))
    hundredths = checkout.hundredths if checkout else int(metadata.get("hundredths") or 0)
    if hundredths <= 0:
        return "ignored: not a credit pack of ours"
    intent = session.get("payment_intent") if isinstance(session.get("payment_intent"), str) else None
    reference = intent or str(session["id"])
    amount, currency = int(session.get("amount_total") or 0), str(session.get("currency") or conf.currency())
    pack = conf.pack_get(pack_key)
    label = f"{pack.credits}-credit pack" if pack else f"{describe_credits(hundredths)} pack"
    payment, _ = Payment.objects.get_or_create(
        reference=reference,
        defaults={
            "user": user,
            "kind": PaymentKind.PACK,
            "pack_key": pack_key,
            "hundredths": hundredths,
            "amount": amount,
            "currency": currency,
            "stripe_checkout_session_id": session.get("id"),
            "stripe_payment_intent_id": intent,
        },
    )
    credits_purchase(
        user=user,
        hundredths=payment.hundredths,
        payment_reference=reference,
        reason=f"{label} · {money(amount, currency)}",
    )
    return f"granted {describe_credits(hundredths)} for {reference}"


def _subscription_started(*, user: User, session: dict[str, Any], created: datetime) -> str:
    subscription_id = session.get("subscription")
    if not isinstance(subscription_id, str):
        return "ignored: no subscription"
    _subscription_upsert(
        user=user,
        subscription_id=subscription_id,
        created=created,
        status=SubscriptionStatus.ACTIVE,
        only_if_new=True,
    )
    return f"premium started ({_plan_sync(user=user)})"


def _subscription_upsert(
    *,
    user: User,
    subscription_id: str,
    created: datetime,
    status: str,
    period_end: datetime | None = None,
    cancel_at_period_end: bool | None = None,
    only_if_new: bool = False,
) -> Subscription:
    """Apply a subscription's state as of ``created``; a state older than the one applied changes nothing."""
    row = Subscription.objects.select_for_update().filter(stripe_subscription_id=subscription_id).first()
    if row is None:
        try:
            with transaction.atomic():
                return Subscription.objects.create(
                    user=user,
                    stripe_subscription_id=subscription_id,
                    status=status,
                    current_period_end=period_end,
                    cancel_at_period_end=bool(cancel_at_period_end),
                    state_as_of=created,
                )
        except IntegrityError:
            row = Subscription.objects.select_for_update().get(stripe_subscription_id=subscription_id)
    fields = ["updated_at"]
    if period_end and (row.current_period_end is None or period_end > row.current_period_end):
        row.current_period_end = period_end
        fields.append("current_period_end")
    if not only_if_new and created >= row.state_as_of:
        row.status, row.state_as_of = status, created
        fields += ["status", "state_as_of"]
        if cancel_at_period_end is not None:
            row.cancel_at_period_end = cancel_at_period_end
            fields.append("cancel_at_period_end")
    row.updated_at = timezone.now()
    row.save(update_fields=fields)
    return row


def _invoice_subscription(invoice: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The subscription an invoice bills, and its metadata, in today's shape (``parent``) or the older one."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription = details.get("subscription") or invoice.get("subscription")
    if isinstance(subscription, dict):
        subscription = subscription.get("id")
    return (subscription if isinstance(subscription, str) else None), (details.get("metadata") or {})


def _invoice_paid(invoice: dict[str, Any], created: datetime, lookups: dict[str, str]) -> str:
    subscription_id, metadata = _invoice_subscription(invoice)
    if subscription_id is None:
        return "ignored: not a subscription invoice"
    user = _user_for(customer=invoice.get("customer"), metadata=metadata)
    if user is None:
        return "ignored: no user for this customer"
    ends = [
        line.get("period", {}).get("end")
        for line in (invoice.get("lines") or {}).get("data", [])
        if isinstance(line, dict)
    ]
    period_end = _latest(ends)
    # A paid invoice proves the subscription active as of its own time; a later event still wins.
    _subscription_upsert(
        user=user,
        subscription_id=subscription_id,
        created=created,
        status=SubscriptionStatus.ACTIVE,
        period_end=period_end,
    )
    plan = _plan_sync(user=user)
    hundredths = conf.premium_monthly_hundredths()
    amount, currency = int(invoice.get("amount_paid") or 0), str(invoice.get("currency") or conf.currency())
    payment, _ = Payment.objects.get_or_create(
        reference=str(invoice["id"]),
        defaults={
            "user": user,
            "kind": PaymentKind.SUBSCRIPTION,
            "hundredths": hundredths,
            "amount": amount,
            "currency": currency,
            "stripe_invoice_id": invoice["id"],
            "invoice_url": invoice.get("hosted_invoice_url") or "",
        },
    )
    credits_purchase(
        user=user,
        hundredths=payment.hundredths,
        payment_reference=payment.reference,
        reason=f"Premium monthly credits · {money(amount, currency)}",
    )
    return f"granted {describe_credits(payment.hundredths)} for invoice {invoice['id']} ({plan})"


def _subscription_changed(subscription: dict[str, Any], created: datetime, lookups: dict[str, str]) -> str:
    user = _user_for(customer=subscription.get("customer"), metadata=subscription.get("metadata"))
    if user is None:
        return "ignored: no user for this customer"
    items = (subscription.get("items") or {}).get("data") or []
    ends = [item.get("current_period_end") for item in items if isinstance(item, dict)]
    ends.append(subscription.get("current_period_end"))
    period_end = _latest(ends)
    status = str(subscription.get("status") or "")
    if status not in SubscriptionStatus.values:
        return f"ignored: unknown status {status[:40]!r}"
    row = _subscription_upsert(
        user=user,
        subscription_id=str(subscription["id"]),
        created=created,
        status=status,
        period_end=period_end,
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
    )
    return f"subscription {row.status}; plan {_plan_sync(user=user)}"


def _payment_for_charge(charge_like: dict[str, Any], lookups: dict[str, str]) -> Payment | None:
    intent = charge_like.get("payment_intent")
    charge_id = charge_like.get("charge") if charge_like.get("object") == "dispute" else charge_like.get("id")
    payments = Payment.objects.select_for_update()
    found = None
    if isinstance(intent, str):
        found = payments.filter(stripe_payment_intent_id=intent).first()
    if found is None and isinstance(charge_id, str):
        found = payments.filter(stripe_charge_id=charge_id).first()
    if found is None and lookups.get("invoice"):
        found = payments.filter(stripe_invoice_id=lookups["invoice"]).first()
    if found is not None:
        updates: dict[str, Any] = {}
        if isinstance(intent, str) and not found.stripe_payment_intent_id:
            updates["stripe_payment_intent_id"] = found.stripe_payment_intent_id = intent
        if isinstance(charge_id, str) and not found.stripe_charge_id:
            updates["stripe_charge_id"] = found.stripe_charge_id = charge_id
        if updates:
            Payment.objects.filter(pk=found.pk).update(**updates)
    return found


def _take_back(*, payment: Payment, target: int, reference: str, why: str) -> int:
    """Reverse the payment's credits up to ``target`` hundredths in all; returns what this call reversed."""
    due = min(target, payment.hundredths) - payment.reversed_hundredths
    if due <= 0 or payment.user is None:
        return 0
    credits_purchase_reverse(
        user=payment.user,
        hundredths=due,
        reference=reference,
        reason=f"{why}: {payment.get_kind_display().lower()} of {money(payment.amount, payment.currency)}",
    )
    payment.reversed_hundredths += due
    return due


def _charge_refunded(charge: dict[str, Any], created: datetime, lookups: dict[str, str]) -> str:
    payment = _payment_for_charge(charge, lookups)
    if payment is None:
        return "ignored: not a payment of ours"
    refunded = int(charge.get("amount_refunded") or 0)
    amount = int(charge.get("amount") or payment.amount or 0)
    fully = bool(charge.get("refunded")) or (amount > 0 and refunded >= amount)
    # The credits refunded follow the share of the money refunded, rounded down: a partial refund
    # of a pack takes back its share of the pack.
    target = payment.hundredths if fully else (payment.hundredths * refunded // amount if amount else 0)
    taken = _take_back(
        payment=payment, target=target, reference=f"{charge['id']}:refunded:{refunded}", why="Refund"
    )
    payment.amount_refunded = max(payment.amount_refunded, refunded)
    if payment.status != PaymentStatus.DISPUTED:
        payment.status = PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED
    if charge.get("receipt_url") and not payment.receipt_url:
        payment.receipt_url = charge["receipt_url"]
    payment.save(update_fields=["amount_refunded", "status", "reversed_hundredths", "receipt_url"])
    return f"refund: took back {describe_credits(taken)} of payment {payment.reference}"


def _dispute_created(dispute: dict[str, Any], created: datetime, lookups: dict[str, str]) -> str:
    payment = _payment_for_charge(dispute, lookups)
    if payment is None:
        return "ignored: not a payment of ours"
    # The disputed money is held by the bank from now on, so every credit it bought comes back.
    taken = _take_back(
        payment=payment, target=payment.hundredths, reference=f"{dispute['id']}:disputed", why="Dispute"
    )
    payment.status = PaymentStatus.DISPUTED
    payment.save(update_fields=["status", "reversed_hundredths"])
    return f"dispute: took back {describe_credits(taken)} of payment {payment.reference}"


HANDLERS: dict[str, Callable[[dict[str, Any], datetime, dict[str, str]], str]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "invoice.paid": _invoice_paid,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
}
