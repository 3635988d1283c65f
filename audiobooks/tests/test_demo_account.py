"""`manage.py ensure_demo_user`, as `./dev up` runs it: the account, and credits for the whole sample book."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from accounts.models import User
from audiobooks import prices
from audiobooks.ingest import ingest_file
from audiobooks.operators.demo import SAMPLE_BOOK
from credits.models import CreditEntry
from credits.pricing import quote_hundredths
from credits.selectors import credit_balance_get

pytestmark = pytest.mark.django_db


def whole_sample_quote() -> int:
    return quote_hundredths(sum(chapter.chars for chapter in ingest_file(SAMPLE_BOOK).chapters))


def test_the_demo_account_gets_the_quote_for_the_whole_sample_book_plus_one(client, capsys):
    call_command("ensure_demo_user")

    user = User.objects.get(email=DEMO_EMAIL)
    expected = whole_sample_quote() + 100  # a credit to spare
    assert credit_balance_get(user=user) == expected
    assert capsys.readouterr().out.strip() == (
        f"Demo account {DEMO_EMAIL} created, {prices.amount(expected).with_audio}."
    )
    assert client.login(email=DEMO_EMAIL, password=DEMO_PASSWORD)


def test_running_it_again_grants_nothing_more(capsys):
    call_command("ensure_demo_user")
    call_command("ensure_demo_user")
    user = User.objects.get(email=DEMO_EMAIL)
    assert CreditEntry.objects.filter(user=user).count() == 1
    assert (
        capsys.readouterr()
        .out.strip()
        .splitlines()[-1]
        .startswith(f"Demo account {DEMO_EMAIL} already present")
    )


def test_the_sample_book_is_the_corpus_copy_of_sherlock_holmes():
    assert SAMPLE_BOOK.is_file()
    assert ingest_file(SAMPLE_BOOK).title == "The Adventures of Sherlock Holmes"
