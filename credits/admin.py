"""Staff views of balances and the ledger. The ledger is read-only here; money moves through services."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .models import CreditAccount, CreditEntry, Plan
from .services import credit_account_plan_set


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "kind",
        "signed_amount",
        "balance_after",
        "reason",
        "actor",
        "conversion_uuid",
    )
    list_filter = ("kind", "created_at")
    search_fields = ("user__email", "actor__email", "reason", "idempotency_key")
    list_select_related = ("user", "actor")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(description="amount", ordering="amount")
    def signed_amount(self, entry: CreditEntry) -> str:
        return f"{entry.amount:+d}"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CreditEntry], search_term: str
    ) -> tuple[QuerySet[CreditEntry], bool]:
        # A pasted conversion uuid finds its charge and refund.
        try:
            conversion_uuid = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(conversion_uuid=conversion_uuid), False

    # Entries are never added, changed or deleted by hand: a correction is a
    # new entry made by credits_adjust.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CreditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CreditEntry | None = None) -> bool:
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "balance", "plan", "updated_at")
    list_filter = ("plan",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    ordering = ("user__email",)
    fields = ("user", "balance", "plan", "ledger", "created_at", "updated_at")
    readonly_fields = ("user", "balance", "ledger", "created_at", "updated_at")

    @admin.display(description="ledger")
    def ledger(self, account: CreditAccount) -> str:
        url = reverse("admin:credits_creditentry_changelist") + f"?user__id__exact={account.pk}"
        return format_html('<a href="{}">Entries of {}</a>', url, account.user)

    def save_model(self, request: HttpRequest, obj: CreditAccount, form: Any, change: bool) -> None:
        # Only the plan is editable, and it is saved alone: a full save would
        # write back the balance read when the form was opened.
        assert request.user.is_authenticated
        credit_account_plan_set(user=obj.user, plan=Plan(obj.plan), actor=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CreditAccount | None = None) -> bool:
        return False
