"""The reader's credits page: the balance, buying more (packs, premium), payments, and the ledger.

It sits in the account area (the account navigation links it) but lives
here: ``accounts`` knows nothing about credits or books, and ``audiobooks``
may read both.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from audiobooks import selectors
from billing import selectors as billing_selectors
from credits.conf import chars_per_credit, storage_quota_bytes
from credits.errors import format_bytes
from credits.pricing import HUNDREDTHS_PER_CREDIT
from credits.selectors import credit_balance_get, credit_entries_list, credit_plan_get

from .common import user_of

ENTRIES_PER_PAGE = 25


@login_required
@require_safe
def credits_page(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    page = Paginator(credit_entries_list(user=user), ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    books = selectors.conversion_books_for_user(
        user=user, conversion_uuids=[entry.conversion_uuid for entry in page if entry.conversion_uuid]
    )
    rows = [
        {"entry": entry, "book": books.get(entry.conversion_uuid) if entry.conversion_uuid else None}
        for entry in page
    ]
    context = {
        "balance": credit_balance_get(user=user),
        "plan": credit_plan_get(user=user).label,
        "chars_per_credit": chars_per_credit(),
        "chars_per_hundredth": chars_per_credit() / HUNDREDTHS_PER_CREDIT,
        "rows": rows,
        "page": page,
        "billing": billing_selectors.billing_overview(user=user),
        "payments": billing_selectors.payments_list(user=user),
        "shortfall": billing_selectors.shortfall_get(user=user),
        "free_quota": format_bytes(storage_quota_bytes("free")),
        "premium_quota": format_bytes(storage_quota_bytes("premium")),
    }
    response = render(request, "audiobooks/credits.html", context)
    patch_cache_control(response, private=True, no_cache=True)
    return response
