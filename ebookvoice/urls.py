from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

import accounts.urls
import ebookvoice.api.errors
from ebookvoice.api.docs import RedocDocsView, SwaggerDocsView

from . import flags, health, metrics, status, views

# The admin has no login page of its own: it sends people to allauth's, so
# the admin gets the same rate limits and MFA as everyone else.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "eBookVoice administration"
admin.site.site_title = "eBookVoice admin"
admin.site.index_title = "Books, conversions, credits and people"

# allauth's per-action limits (ACCOUNT_RATE_LIMITS) answer with this page on the web.
handler429 = "accounts.views.rate_limited"
# The API's error envelope for what never reaches a DRF view; HTML pages elsewhere.
handler400 = "ebookvoice.api.errors.bad_request"
handler500 = "ebookvoice.api.errors.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Operations (issue 11): readiness, metrics, the status page and the public flags.
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("status", status.status_page, name="status"),
    path("flags.json", flags.flags_json, name="flags"),
    path("admin/", admin.site.urls),
    path("billing/", include("billing.urls")),
    path("accounts/", include(accounts.urls.urlpatterns)),
    path("accounts/", include("allauth.urls")),
    path("_allauth/app/v1/", include(accounts.urls.headless_urlpatterns)),
    path("_allauth/", include("allauth.headless.urls")),
    path("api/v1/", include(accounts.urls.api_urlpatterns)),
    path("api/v1/", include("audiobooks.api.urls")),
    path("api/v1/", include("credits.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/schema/swagger/", SwaggerDocsView.as_view(url_name="api_schema"), name="api_swagger"),
    path("api/schema/redoc/", RedocDocsView.as_view(url_name="api_schema"), name="api_redoc"),
    re_path(r"^api/", ebookvoice.api.errors.not_found),
    path("", include("audiobooks.urls")),
]
