"""The credits API, mounted under ``/api/v1/`` in ``ebookvoice.urls``."""

from __future__ import annotations

from django.urls import path

from . import apis

urlpatterns = [
    path("credits", apis.CreditsApi.as_view(), name="api_credits"),
    path("credits/entries", apis.CreditEntriesApi.as_view(), name="api_credit_entries"),
]
