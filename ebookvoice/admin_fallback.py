"""Every model of our apps is in the admin, even one added before its app wrote a ModelAdmin.

Each app registers its own models with care (``<app>/admin.py``). Run after
those (from ``ebookvoice.apps``), this registers whatever is left, read-only,
with columns, filters and search guessed from its fields, so staff can at
least look at every row; an app's own registration always wins.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

OUR_APPS = ("accounts", "audiobooks", "credits", "tts_engine")
_TEXT_SKIPPED = ("text", "sentences", "token_hash", "password")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows staff look at but never edit here: they change through services, or not at all."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _admin_for(model: type[models.Model]) -> type[admin.ModelAdmin]:
    fields = [f for f in model._meta.concrete_fields if f.name not in _TEXT_SKIPPED]
    shown = [f.name for f in fields if not isinstance(f, models.TextField | models.JSONField)][:8]
    filters = [
        f.name for f in fields if f.choices or isinstance(f, models.BooleanField | models.DateTimeField)
    ][:4]
    searched = [f.name for f in fields if isinstance(f, models.CharField | models.UUIDField)][:4]
    searched += [
        f"{f.name}__email"
        for f in fields
        if isinstance(f, models.ForeignKey) and f.related_model is apps.get_model("accounts", "User")
    ]
    related = [f.name for f in fields if isinstance(f, models.ForeignKey)]
    attributes = {
        "list_display": shown or ["__str__"],
        "list_filter": filters,
        "search_fields": searched,
        "list_select_related": related,
        "__module__": __name__,
    }
    return type(f"{model.__name__}FallbackAdmin", (ReadOnlyAdmin,), attributes)


def register_unregistered(site: admin.AdminSite = admin.site) -> list[str]:
    registered = []
    for label in OUR_APPS:
        for model in apps.get_app_config(label).get_models():
            if not site.is_registered(model):
                site.register(model, _admin_for(model))
                registered.append(model._meta.label)
    return registered
