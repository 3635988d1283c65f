"""Magic links: a sign-in link, sent by email, that works in whichever browser
or app opens it.

allauth's login-by-code is tied to the session that asked for the code, so
this is ours, built on allauth's login flow: a spent link goes through the same
login stages (MFA included) as any other sign-in.

- A link is valid for ``ACCOUNTS_MAGIC_LINK_MAX_AGE_SECONDS``, never more than 15 minutes.
- Only the SHA-256 of its token is stored.
- It is spent once, by a compare-and-swap on ``used_at``.
- Asking for a link answers the same whether or not the address has an account.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import timedelta

from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.email_verification import verify_email_indirectly
from allauth.account.internal.flows.login import perform_login, record_authentication
from allauth.account.internal.flows.signup import send_unknown_account_mail
from allauth.account.models import Login
from allauth.account.utils import filter_users_by_email
from allauth.utils import build_absolute_uri
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from .models import MagicLink, User

MAX_AGE_LIMIT = timedelta(minutes=15)
TOKEN_BYTES = 32
AUTHENTICATION_METHOD = "magic_link"


class LinkState(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    UNKNOWN = "unknown"


class MagicLinkRejected(Exception):
    messages = {
        LinkState.EXPIRED: "This sign-in link has expired. Ask for a new one.",
        LinkState.USED: "This sign-in link has already been used. Ask for a new one.",
        LinkState.UNKNOWN: "This sign-in link is not valid. Ask for a new one.",
    }

    def __init__(self, state: LinkState) -> None:
        self.state = state
        super().__init__(self.messages[state])

    @property
    def message(self) -> str:
        return self.messages[self.state]


def magic_link_max_age() -> timedelta:
    return min(timedelta(seconds=settings.ACCOUNTS_MAGIC_LINK_MAX_AGE_SECONDS), MAX_AGE_LIMIT)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def magic_link_create(*, user: User, email: str) -> str:
    """Store a new link for ``user`` and return its token; only its hash is kept."""
    now = timezone.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # Spent and expired links are of no further use; keep the table small.
    MagicLink.objects.filter(user=user, expires_at__lte=now).delete()
    MagicLink.objects.create(
        user=user,
        email=email,
        token_hash=_token_hash(token),
        created_at=now,
        expires_at=now + magic_link_max_age(),
    )
    return token


def magic_link_send(*, request: HttpRequest, email: str) -> None:
    """Email a sign-in link to the account with this address.

    With no such account, the address gets allauth's "no account" mail
    instead, so the caller's response (and the time it takes) is the same
    either way.
    """
    users = filter_users_by_email(email, is_active=True, prefer_verified=True)
    if not users:
        send_unknown_account_mail(request, email)
        return
    user = users[0]
    token = magic_link_create(user=user, email=email)
    url = build_absolute_uri(request, reverse("account_magic_link", kwargs={"token": token}))
    minutes = int(magic_link_max_age().total_seconds() // 60)
    context = {"request": request, "user": user, "magic_link_url": url, "minutes": minutes}
    get_adapter().send_mail("account/email/magic_link", email, context)


def magic_link_state(*, token: str) -> LinkState:
    link = MagicLink.objects.filter(token_hash=_token_hash(token)).first()
    if link is None:
        return LinkState.UNKNOWN
    if link.used_at is not None:
        return LinkState.USED
    if link.expires_at <= timezone.now():
        return LinkState.EXPIRED
    return LinkState.VALID


def magic_link_consume(*, token: str) -> MagicLink:
    """Spend the link, once: of any number of concurrent calls, one wins."""
    now = timezone.now()
    token_hash = _token_hash(token)
    spent = MagicLink.objects.filter(token_hash=token_hash, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now
    )
    if spent != 1:
        raise MagicLinkRejected(magic_link_state(token=token))
    return MagicLink.objects.select_related("user").get(token_hash=token_hash)


def magic_link_sign_in(*, request: HttpRequest, token: str) -> HttpResponse:
    """Spend the link and sign its user in through allauth's login flow.

    Opening the link proves the address is the reader's, so it is marked
    verified, as allauth does for a login code. The response is allauth's:
    a redirect on the web, or the next pending stage (such as MFA).
    """
    link = magic_link_consume(token=token)
    user = link.user
    record_authentication(request, user, method=AUTHENTICATION_METHOD, email=link.email)
    verify_email_indirectly(request, user, link.email)
    return perform_login(request, Login(user=user, email=link.email))
