"""Buying from the web and the API: Checkout by server redirect, the page back, the portal and receipts.

Stripe's API is answered with ``responses`` (payloads of its real shapes); the
webhooks that follow are signed and sent to the real endpoint.
"""

from __future__ import annotations

import pytest
import responses
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from billing.models import BillingCustomer, Checkout, Payment, PaymentKind
from billing.tests import stripe_fakes as fake
from credits.selectors import credit_balance_get
from credits.services import credits_grant_by_system
from tests.apiclient import assert_error, person_with_app, ready_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing(settings):
    fake.billing_on(settings)


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def buy(browser, rsps, *, pack="pack-20", session_id=None, next_path=None, customer=True):
    session_id = session_id or fake.new_id("cs")
    if customer:
        fake.answer_customer_create(rsps, customer_id=fake.new_id("cus"), email="owner@example.com")
    fake.answer_checkout_create(
        rsps, session_id=session_id, mode="subscription" if pack == "premium" else "payment"
    )
    data = {"pack": pack, **({"next": next_path} if next_path else {})}
    return browser.post("/billing/checkout", data), session_id


# --- The credits page -------------------------------------------------------------------------------


def test_with_billing_off_the_credits_page_says_so_and_offers_nothing_to_buy(browser):
    page = browser.get("/credits/").content.decode()
    assert "Payments are not set up on this site" in page
    assert "Buy 20 credits" not in page
    assert "Go premium" not in page


def test_with_billing_on_the_credits_page_offers_each_pack_with_its_price_and_premium(browser, billing):
    page = browser.get("/credits/").content.decode()
    for credits, price in ((5, "5.00 EUR"), (20, "18.00 EUR"), (50, "40.00 EUR")):
        assert f"Buy {credits} credits" in page
        assert price in page
    assert "Go premium" in page
    assert "9.00 EUR a month" in page
    assert "Manage billing" not in page  # nothing bought yet, so no Stripe customer


# --- Checkout ---------------------------------------------------------------------------------------


def test_buy_redirects_to_the_checkout_url_stripe_made_and_grants_nothing(browser, owner, billing):
    with responses.RequestsMock() as rsps:
        response, session_id = buy(browser, rsps)
        customer_call, session_call = rsps.calls
    assert response.status_code == 303
    assert (
        response["Location"] == f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0"
    )
    sent = fake.form_fields(session_call)
    assert sent["mode"] == ["payment"]
    assert sent["line_items[0][price]"] == [fake.PRICES["pack-20"]]
    assert sent["metadata[pack]"] == ["pack-20"]
    assert sent["metadata[hundredths]"] == ["2000"]
    assert sent["client_reference_id"] == [str(owner.pk)]
    assert sent["success_url"] == ["http://testserver/billing/return?session_id={CHECKOUT_SESSION_ID}"]
    assert sent["cancel_url"] == ["http://testserver/credits/"]
    assert fake.form_fields(customer_call)["metadata[user_id]"] == [str(owner.pk)]
    assert customer_call.request.headers["Idempotency-Key"] == f"ebookvoice-customer-{owner.pk}"
    assert Checkout.objects.get(stripe_session_id=session_id).completed_at is None
    assert credit_balance_get(user=owner) == 0


def test_a_second_purchase_reuses_the_stripe_customer(browser, owner, billing):
    with responses.RequestsMock() as rsps:
        buy(browser, rsps)
    with responses.RequestsMock() as rsps:
        response, _ = buy(browser, rsps, pack="pack-5", customer=False)
        assert len(rsps.calls) == 1
    assert response.status_code == 303
    assert BillingCustomer.objects.filter(user=owner).count() == 1


def test_an_unknown_pack_is_a_400_that_names_the_packs(browser, billing):
    with responses.RequestsMock():  # refused before Stripe is asked anything
        response = browser.post("/billing/checkout", {"pack": "pack-1000"})
    assert response.status_code == 400
    assert "There is no credit pack &#x27;pack-1000&#x27;. Choose one of: pack-5, pack-20, pack-50." in (
        response.content.decode()
    )


def test_with_billing_off_buy_is_a_409_page_and_nothing_is_called(browser):
    with responses.RequestsMock():
        response = browser.post("/billing/checkout", {"pack": "pack-20"})
    assert response.status_code == 409
    assert "Payments are not set up on this site" in response.content.decode()


def test_when_stripe_is_down_buy_is_a_503_with_retry_after(browser, billing):
    with responses.RequestsMock() as rsps:
        rsps.post(
            f"{fake.API}/v1/customers", status=500, json={"error": {"message": "down", "type": "api_error"}}
        )
        response = browser.post("/billing/checkout", {"pack": "pack-20"})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not Checkout.objects.exists()


def test_premium_opens_checkout_in_subscription_mode_and_is_refused_while_premium(
    browser, owner, client, billing
):
    with responses.RequestsMock() as rsps:
        response, _ = buy(browser, rsps, pack="premium")
        sent = fake.form_fields(rsps.calls[1])
    assert response.status_code == 303
    assert sent["mode"] == ["subscription"]
    assert sent["line_items[0][price]"] == [fake.PRICES["premium"]]
    assert sent["subscription_data[metadata][user_id]"] == [str(owner.pk)]
    customer = BillingCustomer.objects.get(user=owner).stripe_customer_id
    subscription_id = fake.new_id("sub")
    invoice = fake.invoice(
        invoice_id=fake.new_id("in"), customer=customer, subscription=subscription_id, user_id=owner.pk
    )
    fake.deliver(client, fake.event("invoice.paid", invoice))
    with responses.RequestsMock():
        again = browser.post("/billing/checkout", {"pack": "premium"})
    assert again.status_code == 409
    assert "already on the premium plan" in again.content.decode()


def test_a_next_path_elsewhere_is_not_followed(browser, billing):
    with responses.RequestsMock() as rsps:
        buy(browser, rsps, next_path="https://evil.example/")
        assert fake.form_fields(rsps.calls[1])["cancel_url"] == ["http://testserver/credits/"]


# --- Coming back --------------------------------------------------------------------------------------


def test_coming_back_says_the_payment_was_received_and_the_status_turns_once_the_webhook_lands(
    browser, owner, client, billing
):
    with responses.RequestsMock() as rsps:
        _, session_id = buy(browser, rsps)
    page = browser.get("/billing/return", {"session_id": session_id})
    assert page.status_code == 200
    assert "Payment received, adding your credits…" in page.content.decode()
    status_url = f"/billing/checkout/{session_id}/status"
    assert browser.get(status_url).json()["completed"] is False
    assert credit_balance_get(user=owner) == 0  # the redirect back grants nothing
    customer = BillingCustomer.objects.get(user=owner).stripe_customer_id
    session = fake.checkout_session(
        session_id=session_id, user_id=owner.pk, customer=customer, payment_intent=fake.new_id("pi")
    )
    assert fake.deliver(client, fake.event("checkout.session.completed", session)).status_code == 200
    status = browser.get(status_url).json()
    assert status == {
        "completed": True,
        "balance": "20.00",
        "balance_hundredths": 2000,
        "plan": "Free",
        "next": "/credits/",
    }


def test_another_readers_checkout_is_not_found(browser, stranger, billing):
    Checkout.objects.create(
        user=stranger,
        kind="pack",
        pack_key="pack-5",
        hundredths=500,
        stripe_session_id="cs_theirs",
        url="https://checkout.stripe.com/c/pay/cs_theirs",
    )
    assert browser.get("/billing/return", {"session_id": "cs_theirs"}).status_code == 404
    assert browser.get("/billing/checkout/cs_theirs/status").status_code == 404


# --- The portal and receipts -----------------------------------------------------------------------------


def test_manage_billing_opens_the_customer_portal(browser, owner, billing):
    BillingCustomer.objects.create(user=owner, stripe_customer_id="cus_portal")
    assert "Manage billing" in browser.get("/credits/").content.decode()
    with responses.RequestsMock() as rsps:
        rsps.post(
            f"{fake.API}/v1/billing_portal/sessions",
            json={
                "id": "bps_1",
                "object": "billing_portal.session",
                "customer": "cus_portal",
                "livemode": False,
                "return_url": "http://testserver/credits/",
                "url": "https://billing.stripe.com/p/session/test_YWNjdF8x",
            },
        )
        response = browser.post("/billing/portal")
        assert fake.form_fields(rsps.calls[0])["customer"] == ["cus_portal"]
    assert (response.status_code, response["Location"]) == (
        303,
        "https://billing.stripe.com/p/session/test_YWNjdF8x",
    )


def test_manage_billing_before_any_purchase_is_a_409(browser, billing):
    assert browser.post("/billing/portal").status_code == 409


def test_a_packs_receipt_is_looked_up_once_and_an_invoice_links_straight(browser, owner, stranger, billing):
    pack = Payment.objects.create(
        user=owner,
        kind=PaymentKind.PACK,
        pack_key="pack-5",
        reference="pi_r",
        stripe_payment_intent_id="pi_r",
        hundredths=500,
        amount=500,
        currency="eur",
    )
    premium = Payment.objects.create(
        user=owner,
        kind=PaymentKind.SUBSCRIPTION,
        reference="in_r",
        stripe_invoice_id="in_r",
        hundredths=1000,
        amount=900,
        currency="eur",
        invoice_url="https://invoice.stripe.com/i/acct_test/in_r",
    )
    page = browser.get("/credits/").content.decode()
    assert f"/billing/payments/{pack.uuid}/receipt" in page
    assert "5.00 EUR" in page
    with responses.RequestsMock() as rsps:
        rsps.get(
            f"{fake.API}/v1/payment_intents/pi_r",
            json={
                "id": "pi_r",
                "object": "payment_intent",
                "amount": 500,
                "currency": "eur",
                "status": "succeeded",
                "latest_charge": {
                    **fake.charge(payment_intent="pi_r", customer="cus", amount=500, charge_id="ch_r")
                },
            },
        )
        first = browser.get(f"/billing/payments/{pack.uuid}/receipt")
        assert "expand" in str(rsps.calls[0].request.url)
    assert (first.status_code, first["Location"]) == (303, "https://pay.stripe.com/receipts/payment/ch_r")
    with responses.RequestsMock():  # kept: no second call
        assert browser.get(f"/billing/payments/{pack.uuid}/receipt")["Location"].endswith("ch_r")
        assert browser.get(f"/billing/payments/{premium.uuid}/receipt")["Location"] == premium.invoice_url
    stranger_browser = Client()
    stranger_browser.force_login(stranger)
    assert stranger_browser.get(f"/billing/payments/{pack.uuid}/receipt").status_code == 404


# --- The quote screen ---------------------------------------------------------------------------------------


def test_the_quote_screen_offers_the_pack_that_covers_the_shortfall_and_comes_back_to_the_book(
    browser, owner, tmp_path, billing
):
    book = ready_book(owner, tmp_path)
    credits_grant_by_system(user=owner, hundredths=1, reason="almost nothing")
    page = browser.get(f"/books/{book.uuid}/convert").content.decode()
    assert "Buy <span data-top-up-credits>5</span> more credits" in page
    assert f'name="next" value="/books/{book.uuid}/convert"' in page
    with responses.RequestsMock() as rsps:
        response, session_id = buy(browser, rsps, pack="pack-5", next_path=f"/books/{book.uuid}/convert")
        assert fake.form_fields(rsps.calls[1])["cancel_url"] == [
            f"http://testserver/books/{book.uuid}/convert"
        ]
    assert response.status_code == 303
    assert (
        browser.get(f"/billing/checkout/{session_id}/status").json()["next"] == f"/books/{book.uuid}/convert"
    )


def test_with_billing_off_the_quote_screen_points_to_the_credits_page(browser, owner, tmp_path):
    book = ready_book(owner, tmp_path)
    page = browser.get(f"/books/{book.uuid}/convert").content.decode()
    assert "data-top-up" not in page
    assert "see your credits</a>" in page


# --- The API ------------------------------------------------------------------------------------------------


def test_the_api_gives_plan_renewal_packs_and_prices(billing):
    user, api = person_with_app("reader@example.com")
    body = api.get("/api/v1/billing").json()
    assert body["enabled"] is True
    assert (body["plan"], body["renews_at"], body["ends_at"], body["currency"]) == ("free", None, None, "eur")
    assert body["packs"][1] == {
        "key": "pack-20",
        "credits": 20,
        "amount": 1800,
        "currency": "eur",
        "price": "18.00 EUR",
    }
    assert body["premium"] == {
        "key": "premium",
        "amount": 900,
        "currency": "eur",
        "price": "9.00 EUR",
        "monthly_credits": 10,
    }
    customer = fake.customer_for(user)
    invoice = fake.invoice(
        invoice_id=fake.new_id("in"), customer=customer, subscription=fake.new_id("sub"), user_id=user.pk
    )
    fake.deliver(Client(), fake.event("invoice.paid", invoice))
    body = api.get("/api/v1/billing").json()
    assert body["plan"] == "premium"
    assert body["renews_at"] is not None


def test_the_api_says_when_billing_is_off():
    _, api = person_with_app("reader@example.com")
    assert api.get("/api/v1/billing").json()["enabled"] is False
    response = api.post("/api/v1/billing/checkout", {"pack": "pack-20"})
    assert_error(response, 409, "billing_off", "Payments are not set up on this site")


def test_the_api_checkout_answers_201_with_the_url_and_honours_the_idempotency_key(billing):
    user, api = person_with_app("reader@example.com")
    session_id = fake.new_id("cs")
    with responses.RequestsMock() as rsps:
        fake.answer_customer_create(rsps, customer_id=fake.new_id("cus"), email=user.email)
        fake.answer_checkout_create(rsps, session_id=session_id)
        first = api.post("/api/v1/billing/checkout", {"pack": "pack-20"}, HTTP_IDEMPOTENCY_KEY="buy-1")
        again = api.post("/api/v1/billing/checkout", {"pack": "pack-20"}, HTTP_IDEMPOTENCY_KEY="buy-1")
        assert len(rsps.calls) == 2  # one customer, one session: the replay called nothing
        assert rsps.calls[1].request.headers["Idempotency-Key"] == f"ebookvoice-checkout-{user.pk}-buy-1"
    assert first.status_code == 201
    assert first.json() == {
        "checkout_url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        "session_id": session_id,
    }
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert credit_balance_get(user=user) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [({"pack": "pack-7"}, "unknown_pack"), ({}, "invalid"), ({"pack": ""}, "invalid")],
    ids=["unknown", "missing", "empty"],
)
def test_the_api_checkout_refuses_a_pack_it_does_not_sell(billing, body, code):
    _, api = person_with_app("reader@example.com")
    with responses.RequestsMock():
        response = api.post("/api/v1/billing/checkout", body)
    assert response.status_code == 400
    if code == "unknown_pack":
        assert_error(response, 400, "unknown_pack", "There is no credit pack 'pack-7'")


def test_a_twenty_first_checkout_in_an_hour_is_a_429_before_stripe_is_asked(billing, settings):
    settings.CREDITS_RATE_LIMITS = {**settings.CREDITS_RATE_LIMITS, "checkout": "2/h"}
    _, api = person_with_app("reader@example.com")
    with responses.RequestsMock() as rsps:
        fake.answer_customer_create(rsps, customer_id=fake.new_id("cus"), email="reader@example.com")
        for _ in range(2):
            fake.answer_checkout_create(rsps, session_id=fake.new_id("cs"))
            assert api.post("/api/v1/billing/checkout", {"pack": "pack-5"}).status_code == 201
        refused = api.post("/api/v1/billing/checkout", {"pack": "pack-5"})
        assert len(rsps.calls) == 3  # one customer, two sessions
    assert_error(refused, 429, "rate_limited", "limit of 2 checkouts per hour")
    assert refused["Retry-After"]


def test_the_credits_page_says_what_a_refund_left_owing_and_a_conversion_is_refused_with_402(
    owner, tmp_path, browser
):
    from credits.models import CreditAccount
    from tts_engine.registry import DEFAULT_VOICE

    book = ready_book(owner, tmp_path)
    credits_grant_by_system(user=owner, hundredths=500, reason="to spend")
    CreditAccount.objects.filter(user=owner).update(shortfall=250)
    page = browser.get("/credits/").content.decode()
    assert "A refunded or disputed payment took back 2.50 credits you had already spent." in page
    refused = browser.post(
        f"/books/{book.uuid}/convert",
        {"chapter": ["0"], "voice": DEFAULT_VOICE, "speed": "1.0", "idempotency_key": "k"},
    )
    assert refused.status_code == 402
    assert "Buy credits to settle it" in refused.content.decode()
