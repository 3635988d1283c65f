"""Buying credits in a real browser: Buy, to Stripe Checkout by the server's redirect, back, and the webhook.

Debian's Chromium through Playwright, on the live server, under the strict
Content-Security-Policy (no Stripe.js: the page is our own and ``'self'``).
Stripe is faked at its edges only: its API answers the server through
``responses``; its hosted Checkout page, which the browser is sent to, is a
stand-in page at the URL our server made; and the webhook is signed with the
endpoint secret and POSTed over HTTP to the live server's real endpoint.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import responses
from django.test import Client
from playwright import sync_api

from accounts.tests.conftest import make_person
from billing.models import BillingCustomer, Checkout
from billing.tests import stripe_fakes as fake
from credits.selectors import credit_balance_get, ledger_audit
from credits.services import credits_grant_by_system
from tests.apiclient import ready_book
from tests.test_browser_journey import check_page, chromium, page  # noqa: F401  (the browser fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

STAND_IN = "<!doctype html><title>Stripe Checkout</title><h1>Stripe Checkout (stand-in)</h1>"


def stand_in_checkout(route: Any) -> None:
    """Stripe's hosted page, outside the building: a page of its own, under its own strict CSP."""
    route.fulfill(
        status=200,
        content_type="text/html",
        body=STAND_IN,
        headers={"Content-Security-Policy": "default-src 'none'"},
    )


def sign_in(browser_page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    browser_page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def deliver_over_http(live_server: Any, event: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(event)
    request = urllib.request.Request(  # noqa: S310  (the live server, over http)
        f"{live_server.url}/billing/stripe/webhook",
        data=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": fake.signature(payload)},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 200
        return dict(json.loads(response.read()))


def test_a_reader_buys_twenty_credits_and_sees_them_arrive_without_a_reload(
    page: Any,  # noqa: F811
    live_server: Any,
    settings: Any,
) -> None:
    fake.billing_on(settings)
    reader = make_person("buyer@example.com")
    credits_grant_by_system(user=reader, hundredths=300, reason="welcome")
    sign_in(page, live_server, reader)

    page.goto("/credits/")
    check_page(page, "credits-billing")
    assert page.get_by_role("button", name="Buy 20 credits").is_visible()

    # Stripe's hosted page is outside the building: the browser reaches a stand-in at the URL.
    visited: list[str] = []

    def checkout_page(route: Any) -> None:
        visited.append(route.request.url)
        stand_in_checkout(route)

    page.route("https://checkout.stripe.com/**", checkout_page)
    session_id = fake.new_id("cs")
    with responses.RequestsMock() as rsps:
        fake.answer_customer_create(rsps, customer_id=fake.new_id("cus"), email=reader.email)
        fake.answer_checkout_create(rsps, session_id=session_id)
        page.get_by_role("button", name="Buy 20 credits").click()
        page.wait_for_url("https://checkout.stripe.com/**")
        sent = fake.form_fields(rsps.calls[1])
    made = Checkout.objects.get(stripe_session_id=session_id)
    assert (
        page.url == made.url == f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0"
    )
    assert visited == [made.url.split("#")[0]]
    assert sent["success_url"] == [f"{live_server.url}/billing/return?session_id={{CHECKOUT_SESSION_ID}}"]
    assert sent["line_items[0][price]"] == [fake.PRICES["pack-20"]]

    # Stripe sends the reader back before (or after) its webhook; coming back grants nothing.
    page.goto(f"/billing/return?session_id={session_id}")
    state = page.locator("[data-billing-state]")
    balance = page.locator("[data-billing-balance]")
    sync_api.expect(state).to_contain_text("Payment received, adding your credits…")
    sync_api.expect(balance).to_have_text("3.00")
    check_page(page, "billing-return")
    page.evaluate("() => { window.__sameDocument = true; }")
    assert credit_balance_get(user=reader) == 300

    customer = BillingCustomer.objects.get(user=reader).stripe_customer_id
    session = fake.checkout_session(
        session_id=session_id, user_id=reader.pk, customer=customer, payment_intent=fake.new_id("pi")
    )
    outcome = deliver_over_http(live_server, fake.event("checkout.session.completed", session))
    assert outcome["outcome"].startswith("granted 20.00 credits")

    sync_api.expect(balance).to_have_text("23.00", timeout=15_000)
    sync_api.expect(state).to_have_text("Your credits are here")
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    assert credit_balance_get(user=reader) == 2300

    page.goto("/credits/")
    assert "20-credit pack · 18.00 EUR" in page.content()
    assert page.get_by_role("link", name="Receipt").is_visible()
    assert not ledger_audit().mismatches


def test_the_quote_screen_buys_what_is_missing_and_comes_back_to_the_same_conversion(
    page: Any,  # noqa: F811
    live_server: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    fake.billing_on(settings)
    reader = make_person("short@example.com")
    book = ready_book(reader, tmp_path)  # and no credits at all
    sign_in(page, live_server, reader)
    convert = f"/books/{book.uuid}/convert"
    page.goto(convert)
    # The picker opens on what the balance pays for (nothing here); ticking a chapter makes it short.
    page.locator("[data-chapter]").first.check()
    short = page.locator("[data-quote-short]")
    sync_api.expect(short).to_be_visible()
    top_up = page.get_by_role("button", name="Buy 5 more credits")
    sync_api.expect(top_up).to_be_visible()
    check_page(page, "convert-short")

    page.route("https://checkout.stripe.com/**", stand_in_checkout)
    session_id = fake.new_id("cs")
    with responses.RequestsMock() as rsps:
        fake.answer_customer_create(rsps, customer_id=fake.new_id("cus"), email=reader.email)
        fake.answer_checkout_create(rsps, session_id=session_id)
        top_up.click()
        page.wait_for_url("https://checkout.stripe.com/**")
        sent = fake.form_fields(rsps.calls[1])
    assert sent["line_items[0][price]"] == [fake.PRICES["pack-5"]]
    assert sent["cancel_url"] == [f"{live_server.url}{convert}"]

    page.goto(f"/billing/return?session_id={session_id}")
    customer = BillingCustomer.objects.get(user=reader).stripe_customer_id
    session = fake.checkout_session(
        session_id=session_id, user_id=reader.pk, customer=customer, pack="pack-5", hundredths=500,
        amount_total=500, payment_intent=fake.new_id("pi"),
    )  # fmt: skip
    deliver_over_http(live_server, fake.event("checkout.session.completed", session))
    # Once the credits are in, the page goes back to the conversion, now affordable.
    page.wait_for_url(f"**{convert}", timeout=20_000)
    sync_api.expect(page.locator("[data-quote-short]")).to_be_hidden()
    sync_api.expect(page.locator("[data-convert-button]")).to_be_enabled()
