"""Staff views of balances and the ledger. The ledger is read-only here; money moves through services."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User

from .errors import plural
from .forms import GrantCreditsForm
from .models import CreditAccount, CreditEntry, Plan
from .pricing import describe_balance, describe_credits, format_credits
from .services import credit_account_plan_set, credits_grant, credits_shortfall_waive


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "kind",
        "signed_amount",
        "balance_after_credits",
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

    @admin.display(description="amount (credits)", ordering="amount")
    def signed_amount(self, entry: CreditEntry) -> str:
        return ("+" if entry.amount >= 0 else "-") + format_credits(abs(entry.amount))

    @admin.display(description="balance after", ordering="balance_after")
    def balance_after_credits(self, entry: CreditEntry) -> str:
        return format_credits(entry.balance_after)

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


class OwesFilter(admin.SimpleListFilter):
    """Accounts a refunded or disputed payment left owing: their conversions wait until it is paid."""

    title = "owes credits"
    parameter_name = "owes"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Owes credits (a refund or dispute)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> QuerySet[CreditAccount]:
        return queryset.filter(shortfall__gt=0) if self.value() == "yes" else queryset


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "balance_credits", "owed", "plan", "updated_at")
    list_filter = (OwesFilter, "plan")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    ordering = ("user__email",)
    fields = ("user", "balance_credits", "owed", "plan", "ledger", "created_at", "updated_at")
    readonly_fields = ("user", "balance_credits", "owed", "ledger", "created_at", "updated_at")
    actions = ("grant_credits", "waive_shortfall")

    @admin.display(description="owes", ordering="shortfall")
    def owed(self, account: CreditAccount) -> str:
        return describe_credits(account.shortfall) if account.shortfall else "—"

    @admin.action(description="Waive what the selected accounts owe (a dispute won, paid another way)")
    def waive_shortfall(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> None:
        assert isinstance(request.user, User)
        waived = [
            account.user
            for account in queryset.select_related("user")
            if credits_shortfall_waive(user=account.user, actor=request.user, reason="waived in the admin")
        ]
        self.message_user(request, f"Waived what {len(waived)} account(s) owed.", messages.SUCCESS)

    @admin.display(description="balance", ordering="balance")
    def balance_credits(self, account: CreditAccount) -> str:
        return describe_balance(account.balance)

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

    @admin.action(description="Grant credits to the selected accounts", permissions=["change"])
    def grant_credits(
        self, request: HttpRequest, queryset: QuerySet[CreditAccount]
    ) -> TemplateResponse | None:
        users = [account.user for account in queryset.select_related("user")]
        return grant_credits_page(self, request, users)


def grant_credits_page(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, users: list[User]
) -> TemplateResponse | None:
    """The "grant credits" action of any admin whose selected rows are users (or their accounts).

    It asks for an amount and a reason, then makes one staff grant per user.
    The page carries an idempotency key made when it was first shown, so
    submitting it twice grants once; after a partial failure, submitting it
    again grants only what is missing. The selected ids it sends back are
    user ids, which are also the accounts' primary keys, so the same page
    serves the balances list and the users list.
    """
    existing = {account.pk: account for account in CreditAccount.objects.filter(user__in=users)}
    # A user who never had a ledger entry has no row yet: shown at 0 on the free plan.
    accounts = sorted(
        (existing.get(user.pk) or CreditAccount(user=user) for user in users), key=lambda a: a.user.email
    )
    form = GrantCreditsForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        _grant(model_admin, request, accounts, form)
        return None  # back to the list, with the messages
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Grant credits",
        "opts": model_admin.model._meta,
        "accounts": [(account, describe_balance(account.balance)) for account in accounts],
        "form": form,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/credits/grant_credits.html", context)


def _grant(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    accounts: list[CreditAccount],
    form: GrantCreditsForm,
) -> None:
    assert isinstance(request.user, User)
    hundredths, reason = form.hundredths(), form.cleaned_data["reason"]
    keys = {account.user_id: form.idempotency_key(user_id=account.user_id) for account in accounts}
    # Keys a submit of this page already used: skipped and reported. Were two submits to
    # race past this read, the service still moves the money once, under its lock.
    used = CreditEntry.objects.filter(idempotency_key__in=keys.values())
    done_before = set(used.values_list("idempotency_key", flat=True))
    granted = []
    for account in accounts:
        if keys[account.user_id] in done_before:
            continue
        credits_grant(
            user=account.user,
            hundredths=hundredths,
            actor=request.user,
            reason=reason,
            idempotency_key=keys[account.user_id],
        )
        granted.append(account.user.email)
    if granted:
        model_admin.message_user(
            request,
            f"Granted {describe_credits(hundredths)} to {plural(len(granted), 'account')}"
            + (f": {', '.join(granted)}." if len(granted) <= 10 else "."),
            messages.SUCCESS,
        )
    if done_before:
        model_admin.message_user(
            request,
            f"{plural(len(done_before), 'account')} already had this grant from an earlier submit "
            "of the same form; nothing more was given to them.",
            messages.WARNING,
        )
