"""Web pages of our own: magic links, data export and account deletion.

Everything else on the web (sign-in, sign-up, codes, MFA, sessions) is
allauth's, themed by ``templates/allauth/layouts``.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from allauth.account.decorators import reauthentication_required
from allauth.account.internal.decorators import login_not_required
from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.internal.flows.sessions import end_sessions
from allauth.usersessions.models import UserSession
from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .forms import AccountDeleteForm, MagicLinkRequestForm
from .magic_links import LinkState, MagicLinkRejected, magic_link_send, magic_link_sign_in, magic_link_state
from .models import User
from .ratelimits import TOO_MANY_REQUESTS, action_retry_after, too_many_requests
from .selectors import user_export
from .services import user_delete
from .signals import account_page_building

TOO_MANY_LINKS = "Too many sign-in links asked for. Wait a minute and try again."


def rate_limited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler429`` for allauth's own per-action limits on the web (most count per minute)."""
    return too_many_requests(request, message=TOO_MANY_REQUESTS, retry_after=60)


@login_not_required
@require_http_methods(["GET", "POST"])
def magic_link_request(request: HttpRequest) -> HttpResponse:
    form = MagicLinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if not ratelimit.consume(request, action="magic_link_request", key=email.lower()):
            retry_after = action_retry_after("magic_link_request")
            return too_many_requests(request, message=TOO_MANY_LINKS, retry_after=retry_after)
        magic_link_send(request=request, email=email)
        return redirect("account_magic_link_sent")
    return render(request, "account/magic_link_request.html", {"form": form})


@login_not_required
def magic_link_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "account/magic_link_sent.html")


def _rejected(request: HttpRequest, rejection: MagicLinkRejected) -> HttpResponse:
    status = HTTPStatus.NOT_FOUND if rejection.state == LinkState.UNKNOWN else HTTPStatus.GONE
    context = {"state": str(rejection.state), "message": rejection.message}
    return render(request, "account/magic_link_invalid.html", context, status=status)


@login_not_required
@require_http_methods(["GET", "POST"])
def magic_link(request: HttpRequest, token: str) -> HttpResponse:
    """Opening the link shows a button; pressing it signs in.

    The GET never spends the link: mail scanners open links before people do.
    """
    if request.method == "GET":
        state = magic_link_state(token=token)
        if state != LinkState.VALID:
            return _rejected(request, MagicLinkRejected(state))
        return render(request, "account/magic_link_confirm.html")
    if not ratelimit.consume(request, action="magic_link_login"):
        retry_after = action_retry_after("magic_link_login")
        return too_many_requests(request, message=TOO_MANY_REQUESTS, retry_after=retry_after)
    try:
        return magic_link_sign_in(request=request, token=token)
    except MagicLinkRejected as rejection:
        return _rejected(request, rejection)


@login_required
@require_http_methods(["POST"])
def session_end(request: HttpRequest, pk: int) -> HttpResponse:
    """Sign out one of your own sessions (a browser, or an app's token); someone else's is a 404."""
    session = get_object_or_404(UserSession, pk=pk, user=request.user)
    was_current = session.is_current()
    end_sessions(request, [session])
    return redirect("home" if was_current else "usersessions_list")


@login_required
@reauthentication_required
@require_http_methods(["GET"])
def data_export(request: HttpRequest) -> HttpResponse:
    data = user_export(user=request.user)  # type: ignore[arg-type]
    body = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    filename = f"ebookvoice-export-{timezone.now():%Y-%m-%d}.json"
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@reauthentication_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user_delete(user=request.user)  # type: ignore[arg-type]
        logout(request)
        messages.success(request, "Your account and everything in it have been deleted.")
        return redirect("home")
    return render(request, "account/delete.html", {"form": form})


class NotificationsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("notify_by_email",)
        labels = {"notify_by_email": "Email me when an audiobook is ready, or could not be finished"}


# Sessions shown on the overview; the sessions page lists them all.
SESSIONS_SHOWN = 5


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    """The account overview: email, notifications, security, sessions, connected accounts, data.

    The one setting changed here is ``notify_by_email``; everything else links
    to allauth's own page for it, or to ours for export and deletion.
    """
    user = request.user
    assert isinstance(user, User)  # login_required
    form = NotificationsForm(request.POST if request.method == "POST" else None, instance=user)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(
                request,
                "We will email you when an audiobook is ready."
                if form.instance.notify_by_email
                else "We won’t email you about your audiobooks any more.",
            )
            return redirect("account_settings")
        messages.error(request, "That setting could not be saved. Please try again.")
    sessions = list(UserSession.objects.filter(user=user).order_by("-last_seen_at"))
    context = {
        "form": form,
        "emails": EmailAddress.objects.filter(user=user).order_by("-primary", "email"),
        "has_password": user.has_usable_password(),
        "authenticators": set(Authenticator.objects.filter(user=user).values_list("type", flat=True)),
        "sessions": sessions[:SESSIONS_SHOWN],
        "session_count": len(sessions),
        "social_accounts": SocialAccount.objects.filter(user=user).order_by("provider"),
        # Without Google set up on this server there is nothing to connect: the section is left out.
        "social_providers": get_social_adapter().list_providers(request),
    }
    for _receiver, sections in account_page_building.send(sender=User, user=user):
        if isinstance(sections, dict):
            context.update(sections)
    return render(request, "account/settings.html", context)
