from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

import accounts.urls

from . import views

# The admin has no login page of its own: it sends people to allauth's, so
# the admin gets the same rate limits and MFA as everyone else.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

# allauth's per-action limits (ACCOUNT_RATE_LIMITS) answer with this page on the web.
handler429 = "accounts.views.rate_limited"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts.urls.urlpatterns)),
    path("accounts/", include("allauth.urls")),
    path("_allauth/app/v1/", include(accounts.urls.headless_urlpatterns)),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/v1/", include(accounts.urls.api_urlpatterns)),
    path("api/v1/", include("audiobooks.api_urls")),
    path("", include("audiobooks.urls")),
]
