"""allauth adapters: the one place where eBookVoice changes allauth's behaviour.

allauth's flows serve both the web pages and the headless API, so a change
made here applies to both.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.headless.adapter import DefaultHeadlessAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.http import HttpRequest

from ebookvoice import flags

from . import crypto
from .ratelimits import TOO_MANY_LOGIN_ATTEMPTS, login_lockout_retry_after, too_many_requests


class AccountAdapter(DefaultAccountAdapter):
    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        # Every email (templates/account/email/base_message.*) signs off with a link to the site;
        # allauth's own sign-off names the request's host instead ("Hello from 127.0.0.1:8000!").
        context = {"site_url": settings.SITE_URL, **context}
        return super().render_mail(template_prefix, email, context, headers)

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Staff close signups with the "signups_closed" switch in the admin; the
        # web form and the app API both ask here.
        return flags.signups_open()

    def validation_error(self, code: str, *args: Any) -> ValidationError:
        # allauth counts failed passwords per address and failed 2FA codes per
        # user ("login_failed" in ACCOUNT_RATE_LIMITS) and reports a lockout as
        # a form error: a 200 page on the web, a 400 in the app API. We answer
        # 429 with Retry-After and a message that says what happened and how
        # long to wait, for the web form and the app alike. The password count
        # is per address typed, known or not, so the lockout reveals nothing
        # about accounts.
        if code == "too_many_login_attempts" and context.request is not None:
            response = too_many_requests(
                context.request,
                message=TOO_MANY_LOGIN_ATTEMPTS,
                code="too_many_login_attempts",
                retry_after=login_lockout_retry_after(),
            )
            raise ImmediateHttpResponse(response)
        return super().validation_error(code, *args)


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are stored encrypted (``FERNET_KEYS``)."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)


@dataclasses.dataclass
class HeadlessUser:
    id: str | None = dataclasses.field(
        metadata={"description": "The user's public id (a UUID).", "example": "7d9f…"}
    )
    display: str = dataclasses.field(
        metadata={"description": "The display name for the user.", "example": "reader@example.com"}
    )
    email: str | None = dataclasses.field(
        metadata={"description": "The primary email address.", "example": "reader@example.com"}
    )
    has_usable_password: bool = dataclasses.field(
        metadata={"description": "Whether the account has a password set.", "example": True}
    )


class HeadlessAdapter(DefaultHeadlessAdapter):
    """Apps see the user's ``uuid`` as its id, never the sequential primary key."""

    def get_user_dataclass(self) -> type[HeadlessUser]:
        return HeadlessUser

    def user_as_dataclass(self, user: AbstractBaseUser) -> HeadlessUser:
        default = super().user_as_dataclass(user)
        public_id = str(user.uuid) if user.pk else None  # type: ignore[attr-defined]
        return HeadlessUser(
            id=public_id,
            display=default.display,
            email=default.email,
            has_usable_password=default.has_usable_password,
        )
