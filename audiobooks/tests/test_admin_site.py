"""The admin as staff see it: our name on it, one Accounts group, and readable figures."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from audiobooks.models import ConversionChapter
from audiobooks.tests.factories import completed_conversion, story_book

pytestmark = pytest.mark.django_db


def _staff(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_the_admin_is_branded_and_has_one_accounts_group(staff):
    page = _staff(staff).get(reverse("admin:index")).content.decode()
    assert "eBookVoice administration" in page
    assert "Django administration" not in page
    groups = re.findall(r'<caption>\s*<a [^>]*class="section"[^>]*>([^<]+)</a>', page)
    assert groups.count("Accounts") == 1, groups


def test_a_users_email_addresses_are_on_their_page(staff, owner):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    page = _staff(staff).get(reverse("admin:accounts_user_change", args=[owner.pk])).content.decode()
    assert "email addresses" in page.lower()
    assert f'value="{owner.email}"' in page


def test_a_mastering_gain_reads_in_decibels_to_one_decimal(staff, owner, tmp_path):
    book = story_book(owner, tmp_path, titles=("One",))
    conversion = completed_conversion(book)
    ConversionChapter.objects.create(
        conversion=conversion, chapter=book.chapters.get(), position=0, status=ConversionChapter.Status.READY,
        gain_db=6.699999999999999, duration_ms=1000, finished_at=conversion.finished_at,
    )  # fmt: skip
    client = _staff(staff)
    for url in (
        reverse("admin:audiobooks_conversionchapter_changelist"),
        reverse("admin:audiobooks_conversion_change", args=[conversion.pk]),
    ):
        page = client.get(url).content.decode()
        assert "+6.7 dB" in page, url
        assert "6.699999" not in page, url


def test_the_feeds_list_never_shows_a_token(staff, owner):
    from audiobooks.feeds import feed_create, feed_token

    feed = feed_create(user=owner)
    client = _staff(staff)
    for url in (
        reverse("admin:audiobooks_podcastfeed_changelist"),
        reverse("admin:audiobooks_podcastfeed_change", args=[feed.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert feed_token(feed) not in page.content.decode()
        assert feed.token_sha256 not in page.content.decode()
