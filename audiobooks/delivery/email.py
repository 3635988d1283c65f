"""Email when a conversion completes or fails, with a link to the book, unless the reader switched it off.

Sent by a light-queue task after the conversion's final state is committed;
the row decides what is said, so a repeated message repeats the same email
at worst, and never one that contradicts the book page.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from audiobooks import prices
from audiobooks.models import Conversion
from credits.selectors import conversion_refund_hundredths, credit_balance_get

logger = logging.getLogger(__name__)

_TEMPLATES: dict[str, str] = {
    Conversion.Status.COMPLETED: "audiobooks/email/conversion_completed",
    Conversion.Status.FAILED: "audiobooks/email/conversion_failed",
}


def book_url(conversion: Conversion) -> str:
    return settings.SITE_URL + reverse("audiobooks:book-detail", kwargs={"book_uuid": conversion.book.uuid})


def conversion_finished_email_send(*, conversion_id: int) -> bool:
    """Email the owner that their audiobook is ready (or failed); returns whether an email went."""
    conversion = Conversion.objects.select_related("owner", "book").filter(pk=conversion_id).first()
    if conversion is None or conversion.status not in _TEMPLATES or not conversion.owner.notify_by_email:
        return False
    if conversion.operator_job:
        return False  # an operator's own job: they watch it in the terminal
    refunded = conversion_refund_hundredths(conversion_uuid=conversion.uuid)
    balance = credit_balance_get(user=conversion.owner)
    context = {
        "title": conversion.book.display_title,
        "charged": prices.amount(conversion.charge_hundredths, voice_key=conversion.voice_key),
        "refunded": prices.amount(refunded, voice_key=conversion.voice_key) if refunded else None,
        "balance": prices.amount(balance),
        "url": book_url(conversion),
        "error_message": conversion.error_message,
        "minutes": round((conversion.duration_ms or 0) / 60_000),
        "settings_url": settings.SITE_URL + reverse("account_settings"),
    }
    name = _TEMPLATES[conversion.status]
    subject = render_to_string(f"{name}_subject.txt", context).strip()
    body = render_to_string(f"{name}_message.txt", context)
    send_mail(subject, body, None, [conversion.owner.email])
    logger.info("emailed %s about conversion %s (%s)", conversion.owner.pk, conversion.pk, conversion.status)
    return True
