from __future__ import annotations

from django.urls import path

from . import apis, headless, views

# Under /accounts/, beside allauth's own pages.
urlpatterns = [
    path("settings/", views.account_settings, name="account_settings"),
    path("magic-link/", views.magic_link_request, name="account_magic_link_request"),
    path("magic-link/sent/", views.magic_link_sent, name="account_magic_link_sent"),
    path("magic-link/<str:token>/", views.magic_link, name="account_magic_link"),
    path("sessions/<int:pk>/end/", views.session_end, name="account_session_end"),
    path("export/", views.data_export, name="account_data_export"),
    path("delete/", views.account_delete, name="account_delete"),
]

# Under /_allauth/app/v1/, beside allauth's headless API for apps.
headless_urlpatterns = [
    path("auth/magic-link/request", headless.magic_link_request, name="headless_magic_link_request"),
    path("auth/magic-link/login", headless.magic_link_login, name="headless_magic_link_login"),
]

# Under /api/v1/.
api_urlpatterns = [
    path("me", apis.MeApi.as_view(), name="api_me"),
]
