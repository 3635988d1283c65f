"""Every email allauth can send is the product's own: a project subject, plain text and HTML, all rendered.

The list comes from the installed allauth itself (its ``templates/**/email/*_subject.txt``),
so an upgrade that adds an email fails here until the project writes its version.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import allauth
import pytest
from allauth.account.adapter import get_adapter
from allauth.core.context import request_context
from django.core.mail import EmailMultiAlternatives
from django.template import Engine

from ebookvoice.paths import BASE_DIR

ALLAUTH_TEMPLATES = Path(allauth.__file__).parent / "templates"
PROJECT_TEMPLATES = BASE_DIR / "templates"
SITE_URL = "https://ebookvoice.example"
MISSING = "!MISSING!"


def email_prefixes(root: Path) -> list[str]:
    """``account/email/login_code`` for ``account/email/login_code_subject.txt``, and so on."""
    subjects = root.glob("**/email/*_subject.txt")
    return sorted(str(path.relative_to(root)).removesuffix("_subject.txt") for path in subjects)


ALLAUTH_EMAILS = email_prefixes(ALLAUTH_TEMPLATES)
# The ones allauth's adapter sends: allauth's, and our own magic link (the audiobooks emails are not its).
ADAPTER_EMAILS = sorted(
    set(ALLAUTH_EMAILS) | {p for p in email_prefixes(PROJECT_TEMPLATES) if not p.startswith("audiobooks/")}
)


@dataclass
class Provider:
    name: str = "Google"


CONTEXT: dict[str, Any] = {
    "email": "ada@example.com",
    "code": "BCDF-GHJK",
    "activate_url": f"{SITE_URL}/accounts/confirm-email/key-1/",
    "password_reset_url": f"{SITE_URL}/accounts/password/reset/",
    "signup_url": f"{SITE_URL}/accounts/signup/",
    "magic_link_url": f"{SITE_URL}/accounts/magic-link/token-1/",
    "minutes": 15,
    "from_email": "old@example.com",
    "to_email": "new@example.com",
    "deleted_email": "gone@example.com",
    "provider": Provider(),
    "ip": "203.0.113.9",
    "user_agent": "Firefox on Linux",
    "timestamp": datetime(2027, 1, 2, 3, 4, tzinfo=UTC),
}


def test_the_walk_finds_allauths_emails():
    assert len(ALLAUTH_EMAILS) >= 20
    assert {"account/email/email_confirmation", "mfa/email/totp_activated"} <= set(ALLAUTH_EMAILS)


@pytest.mark.parametrize("prefix", ALLAUTH_EMAILS)
def test_every_allauth_email_has_the_projects_own_subject_plain_text_and_html(prefix):
    for suffix in ("_subject.txt", "_message.txt", "_message.html"):
        _, origin = Engine.get_default().find_template(f"{prefix}{suffix}")
        assert Path(origin.name) == PROJECT_TEMPLATES / f"{prefix}{suffix}"


@pytest.mark.parametrize("prefix", ADAPTER_EMAILS)
def test_each_email_renders_branded_in_both_parts_with_every_value_filled_in(prefix, rf, settings):
    settings.SITE_URL = SITE_URL
    [engine] = settings.TEMPLATES
    settings.TEMPLATES = [{**engine, "OPTIONS": {**engine["OPTIONS"], "string_if_invalid": MISSING}}]
    with request_context(rf.get("/")):
        message = get_adapter().render_mail(prefix, "ada@example.com", CONTEXT)

    assert isinstance(message, EmailMultiAlternatives)
    text = str(message.body)
    [(markup, mimetype)] = message.alternatives
    page = html.unescape(str(markup))
    assert mimetype == "text/html"
    assert message.subject.startswith("eBookVoice: ")
    for part in (message.subject, text, page):
        assert MISSING not in part
        assert "{{" not in part
        assert "{%" not in part
        assert "Hello from" not in part
    assert text.endswith(f"eBookVoice: your ebooks, read aloud\n{SITE_URL}")
    assert page.startswith("<!DOCTYPE html>")
    assert f'<a href="{SITE_URL}"' in page
    # The same facts in both parts: a reader of either gets the code, the link, the addresses.
    for value in CONTEXT.values():
        if isinstance(value, str):
            assert (value in text) == (value in page), value
