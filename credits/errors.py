"""Domain errors of the credits app.

Each carries a message written for the person using the site, so a view or the
API's exception handler can show ``str(error)`` as it is, and an HTTP status
(``http_status``) for the one handler that maps domain errors to responses.
"""

from __future__ import annotations

from ebookvoice.errors import DomainError

from .pricing import describe_credits, format_credits


def plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    if noun.endswith("y"):
        noun = noun[:-1] + "ie"
    elif noun.endswith(("s", "ch", "sh", "x")):
        noun += "e"
    return f"{count:,} {noun}s"


def format_bytes(size: int) -> str:
    """Decimal units, as storage is sold: 2 GB is 2,000,000,000 bytes."""
    for unit, scale in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 10 or value.is_integer() else f"{value:.1f} {unit}"
    return plural(size, "byte")


def format_wait(seconds: int) -> str:
    if seconds < 60:
        return "a minute"
    minutes = -(-seconds // 60)
    if minutes < 60:
        return plural(minutes, "minute")
    return plural(-(-minutes // 60), "hour")


class CreditsError(DomainError):
    """An expected refusal, with a message that can be shown to the user; its code is its class's name."""


class InsufficientCredits(CreditsError):
    """The balance is short; ``needed`` and ``available`` are hundredths of a credit."""

    http_status = 402

    def __init__(self, *, needed: int, available: int, message: str | None = None) -> None:
        self.needed = needed
        self.available = available
        super().__init__(
            message
            or f"This conversion needs {describe_credits(needed)} and you have {format_credits(available)}."
        )


class ShortfallOwed(CreditsError):
    """A refunded or disputed purchase took back credits already spent; conversions wait until it is paid."""

    http_status = 402

    def __init__(self, *, owed: int) -> None:
        self.owed = owed
        super().__init__(
            f"A refunded or disputed payment took back {describe_credits(owed)} you had already spent. "
            "Buy credits to settle it; new conversions can start once it is paid. "
            "Listening and downloads keep working."
        )


class OverStorageQuota(CreditsError):
    """More is stored than the plan allows (a premium plan ended).

    Uploads and conversions wait; nothing is deleted.
    """

    http_status = 409

    def __init__(self, *, used_bytes: int, quota_bytes: int, plan_label: str) -> None:
        self.used_bytes = used_bytes
        self.quota_bytes = quota_bytes
        super().__init__(
            f"You store {format_bytes(used_bytes)}, more than the {format_bytes(quota_bytes)} of your "
            f"{plan_label} plan. Nothing has been deleted: listening, downloads and deleting keep working, "
            "but uploads and new conversions wait until you are under it. Delete some books, or go premium."
        )


class NothingToConvert(CreditsError):
    def __init__(self) -> None:
        super().__init__("There is no text to convert: select at least one chapter with text.")


class UploadTooLarge(CreditsError):
    http_status = 413

    def __init__(self, *, size_bytes: int, limit_bytes: int) -> None:
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes
        super().__init__(
            f"This file is {format_bytes(size_bytes)}; uploads can be at most {format_bytes(limit_bytes)}."
        )


class StorageQuotaExceeded(CreditsError):
    http_status = 413

    def __init__(
        self, *, needed_bytes: int, free_bytes: int, quota_bytes: int, plan_label: str, what: str
    ) -> None:
        self.needed_bytes = needed_bytes
        self.free_bytes = free_bytes
        self.quota_bytes = quota_bytes
        super().__init__(
            f"This {what} needs {format_bytes(needed_bytes)} of storage, and your {plan_label} plan has "
            f"{format_bytes(free_bytes)} of its {format_bytes(quota_bytes)} left. "
            "Delete some books to make room."
        )


class RateLimited(CreditsError):
    """Over a rate limit: HTTP 429 with ``Retry-After: retry_after_seconds``."""

    http_status = 429
    retry_after_seconds: int

    def __init__(self, *, action_label: str, limit: int, period_label: str, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            f"You have reached the limit of {limit:,} {action_label} per {period_label}. "
            f"Please try again in {format_wait(retry_after_seconds)}."
        )


class RateLimitUnavailable(CreditsError):
    """The rate-limit store (Redis) cannot be reached: HTTP 503, never a 500.

    The limits fail closed: uploads and conversions are what they protect, and
    a short refusal is cheaper than unmetered synthesis.
    """

    http_status = 503
    retry_after_seconds = 60

    def __init__(self) -> None:
        super().__init__(
            "We can't accept this request right now because a service is unavailable. "
            "Please try again in a minute."
        )


class ChargeNotFound(LookupError):
    """A refund was asked for a conversion that has no charge on a live account: a bug, not a user error."""


class IdempotencyConflict(Exception):
    """An idempotency key was replayed for another user or another kind of entry: a bug, not a user error."""


class LedgerIsAppendOnly(Exception):
    """A ledger entry was about to be changed or deleted; corrections are new entries."""
