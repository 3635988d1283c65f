"""The local demo account, ready to use: ``./dev up`` makes it so a newcomer can sign in at once.

Its address is verified (the README's password lands in the library, with no
emailed code) and it holds what pricing quotes for every chapter of the sample
book, ``tests/corpus/good/sherlock-holmes.epub``, plus a credit to spare. The
account itself and its guard (never under production settings) are accounts';
this glue adds the credits, which accounts must not know about.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from accounts.models import User
from accounts.services import demo_user_ensure
from audiobooks.ingest import ingest_file
from credits.pricing import hundredths_from_credits, quote_hundredths
from credits.selectors import credit_balance_get
from credits.services import credits_grant_by_system
from ebookvoice.paths import corpus_dir

SAMPLE_BOOK = corpus_dir() / "good" / "sherlock-holmes.epub"
SPARE_CREDITS = 1


@dataclass(frozen=True)
class DemoAccount:
    user: User
    created: bool
    balance_hundredths: int


def sample_book_hundredths() -> int:
    """Pricing's quote for the whole sample book (every chapter, as ingestion counts them), plus a spare
    credit, in hundredths of a credit."""
    book = ingest_file(SAMPLE_BOOK)
    return quote_hundredths(sum(chapter.chars for chapter in book.chapters)) + hundredths_from_credits(
        SPARE_CREDITS
    )


def demo_account_ensure(*, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> DemoAccount:
    """Make the demo account (verified, with the sample's credits, granted once) or restore its password."""
    hundredths = sample_book_hundredths()  # reading the book is slow work: before the transaction
    with transaction.atomic():
        user, created = demo_user_ensure(email=email, password=password)
        credits_grant_by_system(
            user=user,
            hundredths=hundredths,
            reason="Demo account: the whole sample book, and a credit to spare",
            idempotency_key=f"demo-grant:{user.uuid}",
        )
    return DemoAccount(user=user, created=created, balance_hundredths=credit_balance_get(user=user))
