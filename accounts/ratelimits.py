"""Sign-in abuse limits that allauth's per-action limits do not already cover.

allauth limits each action (``ACCOUNT_RATE_LIMITS``); on top of that every
request to a sign-in endpoint, web or headless, counts against one coarse
per-IP budget, so no endpoint (code entry, OAuth callbacks, token refresh) is
left without a limit. The client IP is allauth's, which honours
``ALLAUTH_TRUSTED_CLIENT_IP_HEADER`` (Cloudflare's ``CF-Connecting-IP``).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_ratelimit.core import is_ratelimited

TOO_MANY_REQUESTS = _("Too many requests from your network. Wait a minute and try again.")
TOO_MANY_LOGIN_ATTEMPTS = _(
    "Too many failed sign-in attempts for this account. Wait 15 minutes, or reset your password."
)


def client_ip(group: str, request: HttpRequest) -> str:
    """django-ratelimit key: the same client IP that allauth's limits use."""
    return get_adapter().get_client_ip(request)


def _is_headless(request: HttpRequest) -> bool:
    allauth = getattr(request, "allauth", None)
    return hasattr(allauth, "headless") or request.path.startswith("/_allauth/")


def too_many_requests(request: HttpRequest, *, message: str, code: str = "rate_limited") -> HttpResponse:
    """A 429 that says why: JSON in allauth's headless shape for apps, a page for browsers."""
    if _is_headless(request):
        body = {
            "status": HTTPStatus.TOO_MANY_REQUESTS,
            "errors": [{"message": str(message), "code": code}],
        }
        return JsonResponse(body, status=HTTPStatus.TOO_MANY_REQUESTS)
    return render(request, "account/429.html", {"message": message}, status=HTTPStatus.TOO_MANY_REQUESTS)


class AuthEndpointRateLimitMiddleware:
    """Counts every request to a sign-in endpoint against a per-IP budget."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        prefixes = tuple(settings.ACCOUNTS_AUTH_PATH_PREFIXES)
        if request.path.startswith(prefixes) and is_ratelimited(
            request,
            group="accounts.auth-endpoints",
            key=client_ip,
            rate=settings.ACCOUNTS_AUTH_RATE_PER_IP,
            increment=True,
        ):
            return too_many_requests(request, message=TOO_MANY_REQUESTS)
        return self.get_response(request)
