from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from accounts.models import User

pytestmark = pytest.mark.django_db


def test_ensure_demo_user_creates_a_staff_account_that_can_sign_in(client, capsys):
    call_command("ensure_demo_user")
    user = User.objects.get(email=DEMO_EMAIL)
    assert user.is_staff
    assert client.login(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    assert capsys.readouterr().out.strip() == f"Demo account {DEMO_EMAIL} created."


def test_ensure_demo_user_is_idempotent_and_restores_the_password(capsys):
    call_command("ensure_demo_user")
    user = User.objects.get(email=DEMO_EMAIL)
    user.set_password("changed")
    user.save(update_fields=["password"])
    call_command("ensure_demo_user")
    assert User.objects.filter(email=DEMO_EMAIL).count() == 1
    assert User.objects.get(email=DEMO_EMAIL).check_password(DEMO_PASSWORD)
    assert capsys.readouterr().out.strip().endswith("already present.")


def test_two_accounts_cannot_share_an_email_differing_only_in_case():
    from django.db import IntegrityError

    User.objects.create_user("reader@example.com", "pw")
    with pytest.raises(IntegrityError):
        User.objects.create(email="Reader@Example.com")
