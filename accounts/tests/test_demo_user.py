"""The local demo account: verified so its password signs straight in, and never on a production site."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.db import IntegrityError

from accounts.checks import demo_account_absent
from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD, DemoAccountRefused
from accounts.models import User
from accounts.services import demo_user_ensure

pytestmark = pytest.mark.django_db


def test_the_demo_account_is_a_verified_superuser_and_its_password_lands_in_the_library(client):
    user, created = demo_user_ensure(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    assert created
    assert (user.is_staff, user.is_superuser) == (True, True)
    assert EmailAddress.objects.filter(user=user, email=DEMO_EMAIL, verified=True, primary=True).exists()

    response = client.post("/accounts/login/", {"login": DEMO_EMAIL, "password": DEMO_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/books/", "no code step on the way"
    assert response.context["user"] == user


def test_ensuring_it_again_restores_the_password_and_keeps_one_account_and_one_address():
    user, _ = demo_user_ensure(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    user.set_password("changed")
    user.save(update_fields=["password"])
    again, created = demo_user_ensure(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    assert (again, created) == (user, False)
    assert User.objects.get(email=DEMO_EMAIL).check_password(DEMO_PASSWORD)
    assert EmailAddress.objects.filter(user=user).count() == 1


def test_settings_that_forbid_it_make_no_account(settings):
    settings.DEMO_ACCOUNT_ALLOWED = False
    with pytest.raises(DemoAccountRefused):
        demo_user_ensure(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    assert not User.objects.exists()


def test_the_deploy_check_reports_the_demo_account_whatever_the_case_of_its_address():
    assert demo_account_absent() == []
    User.objects.create_user(DEMO_EMAIL.upper(), "pw")
    [error] = demo_account_absent()
    assert error.id == "accounts.E001"
    assert DEMO_EMAIL in error.msg


def test_two_accounts_cannot_share_an_email_differing_only_in_case():
    User.objects.create_user("reader@example.com", "pw")
    with pytest.raises(IntegrityError):
        User.objects.create(email="Reader@Example.com")
