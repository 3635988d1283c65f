"""Billing's refusals, each a message for the reader and an HTTP status (see ``ebookvoice.errors``)."""

from __future__ import annotations

from ebookvoice.errors import DomainError


class BillingError(DomainError):
    pass


class BillingOff(BillingError):
    """No Stripe keys are set (the embedded default): nothing can be bought here, the rest works."""

    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "Payments are not set up on this site, so credits and the premium plan cannot be bought here. "
            "Everything else works as usual."
        )


class UnknownPack(BillingError):
    http_status = 400

    def __init__(self, *, key: str, known: list[str]) -> None:
        super().__init__(f"There is no credit pack {key[:64]!r}. Choose one of: {', '.join(known)}.")


class AlreadyPremium(BillingError):
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "You are already on the premium plan. Use “Manage billing” to change your card or cancel."
        )


class NoBillingAccount(BillingError):
    http_status = 409

    def __init__(self) -> None:
        super().__init__("You have not bought anything yet, so there is no billing account to manage.")


class NoReceipt(BillingError):
    http_status = 409

    def __init__(self) -> None:
        super().__init__("Stripe has no receipt for this payment yet. Please try again in a minute.")


class StripeUnavailable(BillingError):
    """Stripe did not answer or refused the call: a 503 with Retry-After; nothing was bought."""

    http_status = 503
    retry_after_seconds = 30

    def __init__(self) -> None:
        super().__init__("The payment service is not answering right now. Please try again in a minute.")


class NotRefundable(BillingError):
    http_status = 409

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
