"""A strict Content-Security-Policy on every page, and nothing in the templates that it would block.

The browser journeys (``tests/test_browser_journey.py``) fail on any violation
the browser reports; these tests hold the header and the templates to the
policy without a browser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from ebookvoice.paths import BASE_DIR
from ebookvoice.tests.settings_probe import clean_environ, settings_json
from ebookvoice.tests.test_settings import BASE, production_environ

pytestmark = pytest.mark.django_db

TEMPLATES = BASE_DIR / "templates"
SIGNED_OUT = ["/", "/accounts/login/", "/accounts/signup/", "/api/schema/swagger/", "/api/schema/redoc/"]
SIGNED_IN = ["/books/", "/books/new", "/credits/", "/feeds/", "/voices/", "/accounts/settings/",
             "/accounts/sessions/", "/accounts/2fa/", "/no-such-page/"]  # fmt: skip


def directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def served_templates() -> list[Path]:
    """Templates of pages; emails are excluded (mail clients need inline styles, and no CSP applies)."""
    return [path for path in TEMPLATES.rglob("*.html") if "email" not in path.relative_to(TEMPLATES).parts]


@pytest.mark.parametrize(
    ("path", "signed_in"), [(p, False) for p in SIGNED_OUT] + [(p, True) for p in SIGNED_IN]
)
def test_every_page_sends_a_strict_policy(owner, path, signed_in):
    browser = Client()
    if signed_in:
        browser.force_login(owner)
    response = browser.get(path)
    assert response.status_code == (404 if "no-such" in path else 200)
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    for name, values in policy.items():
        assert "'unsafe-inline'" not in values, name
        assert "'unsafe-eval'" not in values, name
        assert not any(value.startswith("'sha") for value in values), name


def test_the_report_only_switch_sends_the_same_policy_without_enforcing_it(settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None
    response = Client().get("/")
    assert "Content-Security-Policy" not in response
    assert directives(response["Content-Security-Policy-Report-Only"])["default-src"] == ["'self'"]


POLICIES = "[settings.CONTENT_SECURITY_POLICY, settings.CONTENT_SECURITY_POLICY_REPORT_ONLY]"


def test_csp_report_only_in_the_environment_turns_the_policy_to_report_only(tmp_path):
    enforced, reported = settings_json(clean_environ(tmp_path, **BASE), POLICIES)
    assert enforced["DIRECTIVES"]["default-src"] == ["'self'"]
    assert reported is None
    enforced, reported = settings_json(clean_environ(tmp_path, **BASE, CSP_REPORT_ONLY="true"), POLICIES)
    assert enforced is None
    assert reported["DIRECTIVES"]["default-src"] == ["'self'"]


def test_in_production_audio_and_covers_may_come_from_the_bucket_and_nothing_else_outside(tmp_path):
    enforced, _ = settings_json(production_environ(tmp_path), POLICIES)
    r2 = ["https://abc123.r2.cloudflarestorage.com", "https://*.abc123.r2.cloudflarestorage.com"]
    assert enforced["DIRECTIVES"]["media-src"] == ["'self'", *r2]
    assert enforced["DIRECTIVES"]["img-src"] == ["'self'", "data:", *r2]
    assert enforced["DIRECTIVES"]["script-src"] == ["'self'"]


def test_no_template_of_a_page_has_an_inline_style_script_or_event_handler():
    offending = []
    for path in served_templates():
        text = path.read_text(encoding="utf-8")
        for pattern in (r'\sstyle="', r"<style", r"<script(?![^>]*\ssrc=)", r"\son[a-z]+=\"", r"javascript:"):
            if re.search(pattern, text):
                offending.append(f"{path.relative_to(BASE_DIR)}: {pattern}")
    assert not offending, offending


def test_the_redoc_page_gets_a_nonce_for_its_styles_and_the_bundle_fetches_nothing_from_a_cdn():
    browser = Client()
    page = browser.get("/api/schema/redoc/")
    policy = directives(page["Content-Security-Policy"])
    [nonce] = [value for value in policy["style-src"] if value.startswith("'nonce-")]
    assert f'nonce="{nonce[7:-1]}"' in page.content.decode()
    bundle = browser.get("/api/schema/redoc/?script=")
    assert bundle.status_code == 200
    assert bundle["Content-Type"] == "application/javascript"
    assert b"cdn.redoc.ly" not in bundle.content
    assert b"r.nc=document.currentScript" in bundle.content
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert b"Redoc" in bundle.content
    # Pages that ask for no nonce get none.
    assert policy != directives(Client().get("/")["Content-Security-Policy"])
    assert directives(Client().get("/")["Content-Security-Policy"])["style-src"] == ["'self'"]
