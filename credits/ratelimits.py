"""The rate-limit policy, and the one helper views call to apply it.

=================  =================  ======================================================
action             default rate       counted per
=================  =================  ======================================================
``upload``         10 per hour        signed-in user (IP address for an anonymous request)
``conversion``     5 per hour         signed-in user
``text_preview``   60 per hour        signed-in user; previews of stock voices are stored
                                      files and are not limited
``checkout``       20 per hour        signed-in user: each opens a Stripe Checkout Session
=================  =================  ======================================================

The premium plan has its own, higher rates (``CREDITS_RATE_LIMITS_PREMIUM``):
30 uploads, 20 conversions and 200 previews an hour. Rates come from
``CREDITS_RATE_LIMITS`` (see ``credits.conf``), so a test or an operator can
raise one without touching code. Counts live in the Django cache (Redis)
through django-ratelimit, in fixed windows; they may be approximate, money
may not, so nothing here guards a balance.

How a view uses it:

- Call ``check_rate_limit`` after recognising an idempotent replay (a known
  ``Idempotency-Key``) and before doing the work: a replay answers with the
  first result and uses no slot.
- ``RateLimited`` becomes HTTP 429 with ``Retry-After: retry_after_seconds``
  (JSON for the API, a friendly page for the web).
- ``RateLimitUnavailable`` (Redis cannot be reached) becomes HTTP 503 with
  ``Retry-After``: the limits fail closed, never with a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from . import conf
from .errors import RateLimited, RateLimitUnavailable
from .models import CreditAccount

logger = logging.getLogger(__name__)


class Action(StrEnum):
    UPLOAD = "upload"
    CONVERSION = "conversion"
    TEXT_PREVIEW = "text_preview"
    CHECKOUT = "checkout"


@dataclass(frozen=True)
class RateLimitPolicy:
    action: Action
    singular: str
    plural: str

    def rate(self, plan: str = "free") -> str:
        return conf.rate_limits(plan)[self.action]

    @property
    def group(self) -> str:
        return f"credits.{self.action}"


POLICIES: dict[Action, RateLimitPolicy] = {
    policy.action: policy
    for policy in (
        RateLimitPolicy(Action.UPLOAD, "upload", "uploads"),
        RateLimitPolicy(Action.CONVERSION, "conversion", "conversions"),
        RateLimitPolicy(Action.TEXT_PREVIEW, "preview of your own text", "previews of your own text"),
        RateLimitPolicy(Action.CHECKOUT, "checkout", "checkouts"),
    )
}

_PERIOD_LABELS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def _period_label(seconds: int) -> str:
    return _PERIOD_LABELS.get(seconds) or f"{seconds:,} seconds"


def check_rate_limit(*, request_or_key: HttpRequest | str, action: Action | str) -> None:
    """Count one use of ``action``; raise ``RateLimited`` once over the limit.

    ``request_or_key`` is the request (counted per signed-in user, else per
    IP address) or a key made by the caller; pass ``str(user.pk)`` to share
    the counter a request by that user would use.
    """
    policy = POLICIES[Action(action)]
    rate = policy.rate(_plan_of(request_or_key))
    limit, period = _split_rate(rate)
    request: HttpRequest | None
    key: str | Callable[[str, HttpRequest | None], str]
    if isinstance(request_or_key, str):
        value = request_or_key
        request, key = None, (lambda group, request: value)
    else:
        # django-ratelimit's own key: str(user.pk) when signed in, else the IP.
        request, key = request_or_key, "user_or_ip"
    try:
        usage = get_usage(request, group=policy.group, key=key, rate=(limit, period), increment=True)
    except (RedisError, OSError) as exc:
        logger.warning("rate limits: the cache cannot be reached (%s); refusing %s", exc, policy.action)
        raise RateLimitUnavailable() from exc
    if usage is None:  # RATELIMIT_ENABLE = False
        return
    if usage["limit"] == 0 and usage["time_left"] == -1:
        # django-ratelimit's answer when the cache returned nothing.
        logger.warning("rate limits: the cache returned no count; refusing %s", policy.action)
        raise RateLimitUnavailable()
    if usage["should_limit"]:
        raise RateLimited(
            action_label=policy.singular if limit == 1 else policy.plural,
            limit=limit,
            period_label=_period_label(period),
            retry_after_seconds=max(1, usage["time_left"]),
        )


def _plan_of(request_or_key: HttpRequest | str) -> str:
    """The plan whose limits apply: the premium plan's while its subscription is active."""
    if isinstance(request_or_key, str):
        user_id = int(request_or_key) if request_or_key.isdigit() else None
    else:
        user = getattr(request_or_key, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
    if user_id is None:
        return "free"
    plan = CreditAccount.objects.filter(user_id=user_id).values_list("plan", flat=True).first()
    return plan or "free"


_RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _split_rate(rate: str) -> tuple[int, int]:
    """django-ratelimit's spelling, "10/h" or "100/15m", as (count, seconds)."""
    match = _RATE.match(rate)
    if match is None:
        raise ImproperlyConfigured(f"CREDITS_RATE_LIMITS: cannot read the rate {rate!r}; write e.g. '10/h'.")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _UNIT_SECONDS[unit]
