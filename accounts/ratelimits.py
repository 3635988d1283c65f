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
from django.utils.cache import patch_cache_control
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


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_window_seconds(rates: str) -> int:
    """The longest window of an allauth or django-ratelimit rate ("10/m/ip,5/15m/key" → 900).

    A limit's count falls once its window has passed, so this is the most a
    refused client has to wait: what ``Retry-After`` says.
    """
    longest = 0
    for rate in rates.split(","):
        period = rate.split("/")[1] if "/" in rate else "m"
        digits = period.rstrip("smhd")
        unit = period[len(digits) :] or "s"
        longest = max(longest, int(digits or 1) * _UNIT_SECONDS[unit])
    return longest or 60


def action_retry_after(action: str) -> int:
    """For a refusal by one of allauth's per-action limits (``ACCOUNT_RATE_LIMITS``)."""
    return rate_window_seconds(settings.ACCOUNT_RATE_LIMITS.get(action) or "1/m")


def per_ip_retry_after() -> int:
    return rate_window_seconds(settings.ACCOUNTS_AUTH_RATE_PER_IP)


def login_lockout_retry_after() -> int:
    return rate_window_seconds(settings.ACCOUNT_RATE_LIMITS["login_failed"])


def too_many_requests(
    request: HttpRequest, *, message: str, code: str = "rate_limited", retry_after: int = 60
) -> HttpResponse:
    """A 429 that says why and for how long (``Retry-After``): JSON in allauth's headless shape
    for apps, a page for browsers."""
    response: HttpResponse
    if _is_headless(request):
        body = {
            "status": HTTPStatus.TOO_MANY_REQUESTS,
            "errors": [{"message": str(message), "code": code}],
        }
        response = JsonResponse(body, status=HTTPStatus.TOO_MANY_REQUESTS)
    else:
        response = render(
            request, "account/429.html", {"message": message}, status=HTTPStatus.TOO_MANY_REQUESTS
        )
    response["Retry-After"] = str(retry_after)
    return response


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
            return too_many_requests(request, message=TOO_MANY_REQUESTS, retry_after=per_ip_retry_after())
        return self.get_response(request)


# allauth's own 429s (its headless per-action limits, handler429) name no wait; its limits count per minute.
DEFAULT_RETRY_AFTER_SECONDS = 60


class AccountResponseHeadersMiddleware:
    """``Cache-Control: no-store`` on every sign-in and account page and answer (sessions, IPs, codes),
    and ``Retry-After`` on every 429 that has none.

    Nothing under ``ACCOUNTS_AUTH_PATH_PREFIXES`` may be kept by a browser's
    or a proxy's cache, where the next person at a shared computer could read it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(tuple(settings.ACCOUNTS_AUTH_PATH_PREFIXES)):
            patch_cache_control(response, no_store=True, private=True)
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS and "Retry-After" not in response:
            response["Retry-After"] = str(DEFAULT_RETRY_AFTER_SECONDS)
        return response
