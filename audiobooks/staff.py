"""Staff actions on conversions, for the admin: cancel and retry.

The pipeline owns both workflows (``pipeline.outcomes``); these wrap them
with the staff check and the log line, so the admin stays a thin caller.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.models import User

from .models import Conversion
from .pipeline.dispatch import parts_dispatch_safely
from .pipeline.outcomes import ConversionNotRetryable, conversion_cancel_and_settle, conversion_retry

logger = logging.getLogger(__name__)

__all__ = ["ConversionNotRetryable", "conversion_cancel_by_staff", "conversion_retry_by_staff"]


def _require_staff(actor: User) -> None:
    if not (actor.is_active and actor.is_staff and actor.has_perm("audiobooks.change_conversion")):
        raise PermissionDenied("Only staff who may change conversions can do this.")


def conversion_cancel_by_staff(*, conversion_id: int, actor: User) -> bool:
    """Stop a conversion that has not finished and refund its unrendered share, exactly once.

    False when it had already finished (completed, failed or cancelled): nothing changes then.
    """
    _require_staff(actor)
    with transaction.atomic(durable=True):
        conversion = Conversion.objects.get(pk=conversion_id)
        cancelled = conversion_cancel_and_settle(conversion=conversion)
    if cancelled:
        logger.warning("conversion %s cancelled by staff user %s", conversion.uuid, actor.pk)
        parts_dispatch_safely()  # its slots in the broker go to other conversions
    return cancelled


def conversion_retry_by_staff(*, conversion_id: int, actor: User) -> int:
    """Run a failed conversion again from where it stopped; returns how many Parts go back to the queue.

    Raises ``ConversionNotRetryable`` for one that has not failed.
    """
    _require_staff(actor)
    return conversion_retry(conversion_id=conversion_id, actor=actor)
