from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from .forms import UserChangeForm, UserCreationForm
from .models import MagicLink, User

# allauth's app is also called "Accounts": its addresses are shown on each user instead, so the
# admin index has one Accounts group.
admin.site.unregister(EmailAddress)


class EmailAddressInline(admin.TabularInline):
    model = EmailAddress
    fields = ("email", "verified", "primary")
    extra = 0
    verbose_name_plural = "email addresses"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = (EmailAddressInline,)
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("uuid", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password", "uuid")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(MagicLink)
class MagicLinkAdmin(admin.ModelAdmin):
    """Read-only: links are made by the sign-in flow and hold only a hash of their token."""

    list_display = ("email", "created_at", "expires_at", "used_at")
    search_fields = ("email",)
    list_filter = ("used_at",)
    ordering = ("-created_at",)
    exclude = ("token_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: MagicLink | None = None) -> bool:
        return False
