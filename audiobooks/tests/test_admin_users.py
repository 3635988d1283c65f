"""The users list for staff: balance, plan and storage used on each row, and granting credits from it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audiobooks.services import book_create_from_upload
from credits.models import CreditEntry, EntryKind
from credits.selectors import credit_balance_get
from credits.services import credits_grant_by_system

pytestmark = pytest.mark.django_db

USERS = reverse("admin:accounts_user_changelist")


def staff_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grant(client: Client, users: list[User], **form):
    data = {"action": "grant_credits", "_selected_action": [u.pk for u in users], **form}
    return client.post(USERS, data, follow="apply" in form)


def grant_key_on(page) -> str:
    match = re.search(r'name="grant_key" value="([0-9a-f-]{36})"', page.content.decode())
    assert match, "the page carries its idempotency key"
    return match.group(1)


def test_staff_see_each_users_balance_plan_and_storage_used(
    staff, owner, stranger, django_capture_on_commit_callbacks
):
    credits_grant_by_system(user=owner, hundredths=700, reason="welcome")
    with django_capture_on_commit_callbacks():
        book_create_from_upload(
            owner=owner, upload=ContentFile(b"PK\x03\x04" + b"e" * 2044), filename="a.epub"
        )
    page = staff_client(staff).get(USERS)
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index("owner@example.com") :].split("</tr>", 1)[0]
    assert ">7.00 credits (about 5 h 39 min of audio)<" in row  # 350,000 characters of joe
    assert "2.0\xa0KB" in row
    assert "Free" in row
    stranger_row = html[html.index("stranger@example.com") :].split("</tr>", 1)[0]
    assert ">0.00 credits (about 0 min of audio)<" in stranger_row
    assert "0\xa0bytes" in stranger_row


def test_the_users_list_takes_as_many_queries_for_many_users_as_for_few(staff, owner):
    client = staff_client(staff)
    client.get(USERS)
    with CaptureQueriesContext(connection) as few:
        client.get(USERS)
    for n in range(5):
        credits_grant_by_system(
            user=User.objects.create_user(f"r{n}@example.com", "pw"), hundredths=100, reason="x"
        )
    with CaptureQueriesContext(connection) as many:
        client.get(USERS)
    assert len(many) == len(few)


def test_a_users_page_shows_balance_storage_quota_and_links_to_their_ledger(staff, owner):
    page = staff_client(staff).get(reverse("admin:accounts_user_change", args=[owner.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Credits and storage" in html
    assert "1.9\xa0GB" in html, "the free plan's 2,000,000,000 bytes"
    assert f"?user__id__exact={owner.pk}" in html


def test_staff_grant_credits_from_the_users_list_once_per_page(staff, owner, stranger):
    client = staff_client(staff)
    page = grant(client, [owner, stranger])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/credits/grant_credits.html"
    assert not CreditEntry.objects.exists(), "nothing moves before the form is sent"
    form = {"apply": "yes", "amount": 3, "reason": "Beta testers", "grant_key": grant_key_on(page)}
    done = grant(client, [owner, stranger], **form)
    assert "Granted 3.00 credits to 2 accounts" in done.content.decode()
    grant(client, [owner, stranger], **form)
    assert (credit_balance_get(user=owner), credit_balance_get(user=stranger)) == (300, 300)
    assert CreditEntry.objects.filter(kind=EntryKind.STAFF_GRANT, actor=staff).count() == 2


def test_a_bad_amount_is_shown_again_and_moves_nothing(staff, owner):
    client = staff_client(staff)
    key = grant_key_on(grant(client, [owner]))
    page = grant(client, [owner], apply="yes", amount=0, reason="x", grant_key=key)
    assert "greater than or equal to 0.01" in page.content.decode()
    assert credit_balance_get(user=owner) == 0


def test_staff_who_may_not_change_balances_cannot_grant_from_the_users_list(owner):
    viewer = User.objects.create_user("viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client = staff_client(viewer)
    assert b"grant_credits" not in client.get(USERS).content
    grant(
        client, [owner], apply="yes", amount=5, reason="x", grant_key="6a0c6f43-7c43-4a36-9d7c-2b0c3a3f2f10"
    )
    assert credit_balance_get(user=owner) == 0
