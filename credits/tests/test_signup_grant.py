"""The free credits arrive when an address is verified, once per address, through the real sign-up flows."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from accounts.services import user_delete
from accounts.tests.conftest import PASSWORD, code_in, last_mail_to
from accounts.tests.test_google import google_client, id_token, sign_in_with_google
from credits.models import CreditEntry
from credits.selectors import credit_balance_get

pytestmark = pytest.mark.django_db


def sign_up_and_verify(client: Client, email: str) -> User:
    client.post("/accounts/signup/", {"email": email, "password1": PASSWORD})
    client.post("/accounts/confirm-email/", {"code": code_in(last_mail_to(email))})
    return User.objects.get(email=email)


def test_verifying_the_address_grants_three_free_credits(client):
    user = sign_up_and_verify(client, "new@example.com")
    assert credit_balance_get(user=user) == 300
    assert CreditEntry.objects.get(user=user).kind == "signup_grant"


def test_an_unverified_sign_up_gets_no_credits(client):
    client.post("/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD})
    assert credit_balance_get(user=User.objects.get(email="new@example.com")) == 0


@pytest.mark.usefixtures(google_client.__name__)
def test_a_google_sign_up_with_a_verified_address_gets_the_grant():
    sign_in_with_google(
        Client(), {"access_token": "ya29.a", "expires_in": 3599, "id_token": id_token("ada@example.com")}
    )
    assert credit_balance_get(user=User.objects.get(email="ada@example.com")) == 300


def test_deleting_the_account_and_signing_up_again_with_the_address_grants_nothing(client):
    first = sign_up_and_verify(client, "again@example.com")
    user_delete(user=first)
    second = sign_up_and_verify(Client(), "again@example.com")
    assert second.pk != first.pk
    assert credit_balance_get(user=second) == 0


def test_the_grant_remembers_an_address_only_as_a_keyed_hash():
    import hashlib

    from credits.services import signup_grant_key

    key = signup_grant_key("Ada@Example.com")
    assert "ada" not in key.lower()
    assert key == signup_grant_key("ada@example.com")
    assert key != "signup:" + hashlib.sha256(b"ada@example.com").hexdigest()
