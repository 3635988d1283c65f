"""App session tokens that end after ``APP_SESSION_IDLE_DAYS`` without use.

allauth's headless API hands an app a session token: the key of a Django
session, looked up on every request (the API's ``SessionTokenAuthentication``
and allauth's own headless views both go through ``lookup_session``). A
browser's session lasts ``SESSION_COOKIE_AGE`` from sign-in, or until the
browser closes; a phone is signed in for months, so its session instead gets
``APP_SESSION_IDLE_DAYS`` from its last use. Each use pushes the end back,
with one write at most every ``APP_SESSION_TOUCH_SECONDS``, so a busy app costs
no write per request.
"""

from __future__ import annotations

import time
from datetime import timedelta

from allauth.headless.internal import sessionkit
from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

# Kept in the session: when its end was last pushed back (seconds since the epoch).
TOUCHED_KEY = "_ebookvoice_app_touched"


def app_session_idle() -> timedelta:
    return timedelta(days=settings.APP_SESSION_IDLE_DAYS)


def _extend(session: SessionBase) -> None:
    session.set_expiry(int(app_session_idle().total_seconds()))
    session[TOUCHED_KEY] = int(time.time())


class IdleExpiringSessionTokenStrategy(SessionTokenStrategy):
    def create_session_token(self, request: HttpRequest) -> str:
        """At sign-in: the app's session lasts ``APP_SESSION_IDLE_DAYS`` from now (saved with the request)."""
        _extend(request.session)
        return super().create_session_token(request)

    def lookup_session(self, session_token: str) -> SessionBase | None:
        session = sessionkit.session_store(session_token)
        # Loading drops an unknown or expired session's key; an ended one is never brought back.
        session.get(SESSION_KEY)
        if not session.session_key:
            return None
        touched = session.get(TOUCHED_KEY, 0)
        if not isinstance(touched, int) or touched < time.time() - settings.APP_SESSION_TOUCH_SECONDS:
            _extend(session)
            session.save()
        return session
