"""Billing's settings: off with no keys, and half a configuration reported by ``manage.py check``."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from billing import conf
from billing.tests import stripe_fakes as fake


def test_with_no_keys_billing_is_off_and_nothing_is_reported(settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    settings.STRIPE_PRICES = {}
    assert not conf.enabled()
    assert conf.configuration_problems() == []


def test_the_whole_configuration_is_on_and_clean(settings):
    fake.billing_on(settings)
    assert conf.enabled()
    assert conf.configuration_problems() == []


def test_half_a_configuration_names_each_missing_part(settings):
    settings.STRIPE_SECRET_KEY = fake.SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.STRIPE_PRICES = {"pack-5": "price_a", "pack-7": "price_x"}
    assert not conf.enabled()
    assert conf.configuration_problems() == [
        "STRIPE_WEBHOOK_SECRET is not set, but other Stripe settings are",
        "STRIPE_PRICES has no price id for pack-20, pack-50, premium",
        "STRIPE_PRICES names unknown packs: pack-7",
    ]


def test_a_currency_no_pack_is_priced_in_is_reported(settings):
    fake.billing_on(settings)
    settings.BILLING_CURRENCY = "gbp"
    assert not conf.enabled()  # half a configuration is off, not half on
    assert conf.configuration_problems() == [
        "BILLING_PACKS has no gbp amount for pack-5, pack-20, pack-50",
        "BILLING_PREMIUM_AMOUNTS has no gbp amount",
    ]


def test_manage_py_check_fails_on_half_a_configuration(settings):
    settings.STRIPE_SECRET_KEY = fake.SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = ""
    with pytest.raises(SystemCheckError, match=r"billing\.E001"):
        call_command("check", "billing")
