"""The users list for staff, with each user's balance and storage used, and a grant-credits action.

``accounts`` registers the user admin and must not know about books or
credits; this app depends on both, so it extends that admin here. Both
figures are annotated on the list's one query, not read row by row.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import UserAdmin as AccountsUserAdmin
from accounts.models import User
from audiobooks import prices
from audiobooks.models import StoredObject
from credits.admin import grant_credits_page
from credits.selectors import storage_quota_get


class UserAdmin(AccountsUserAdmin):
    # Annotated as Any: mypy reads accounts' tuples as fixed-length types.
    list_display: Any = (
        "email", "balance", "plan", "storage_used", "is_staff", "is_active", "date_joined", "last_login",
    )  # fmt: skip
    list_filter = ("is_staff", "is_superuser", "is_active", "credit_account__plan", "date_joined")
    readonly_fields: ClassVar[Any] = (
        *AccountsUserAdmin.readonly_fields, "balance", "plan", "storage_used", "storage_quota", "links",
    )  # fmt: skip
    fieldsets: ClassVar[Any] = (
        *AccountsUserAdmin.fieldsets,
        ("Credits and storage", {"fields": ("balance", "plan", "storage_used", "storage_quota", "links")}),
    )
    actions = ("grant_credits",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        storage = (
            StoredObject.objects.filter(owner=OuterRef("pk"))
            .order_by()
            .values("owner")
            .annotate(total=Sum("size"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("credit_account")
            .annotate(
                storage_bytes=Coalesce(Subquery(storage), Value(0), output_field=IntegerField()),
                balance_n=Coalesce("credit_account__balance", Value(0)),
            )
        )

    @admin.display(description="balance", ordering="balance_n")
    def balance(self, user: Any) -> str:
        return prices.amount(int(getattr(user, "balance_n", 0) or 0)).with_audio

    @admin.display(description="plan", ordering="credit_account__plan")
    def plan(self, user: User) -> str:
        account = getattr(user, "credit_account", None)
        return account.get_plan_display() if account is not None else "Free"

    @admin.display(description="storage used", ordering="storage_bytes")
    def storage_used(self, user: Any) -> str:
        return filesizeformat(getattr(user, "storage_bytes", 0) or 0)

    @admin.display(description="storage quota")
    def storage_quota(self, user: User) -> str:
        return filesizeformat(storage_quota_get(user=user))

    @admin.display(description="records")
    def links(self, user: User) -> str:
        return format_html(
            '<a href="{}">Ledger</a> · <a href="{}">Payments</a> · <a href="{}">Books</a> · '
            '<a href="{}">Conversions</a>',
            reverse("admin:credits_creditentry_changelist") + f"?user__id__exact={user.pk}",
            reverse("admin:billing_payment_changelist") + f"?user__id__exact={user.pk}",
            reverse("admin:audiobooks_book_changelist") + f"?owner__id__exact={user.pk}",
            reverse("admin:audiobooks_conversion_changelist") + f"?owner__id__exact={user.pk}",
        )

    def has_grant_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("credits.change_creditaccount")

    @admin.action(description="Grant credits to the selected users", permissions=["grant"])
    def grant_credits(self, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
        return grant_credits_page(self, request, list(queryset))


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
