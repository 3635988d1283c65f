from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import User
from credits.admin import CreditAccountAdmin
from credits.models import CreditAccount, CreditEntry, Plan
from credits.selectors import credit_balance_get, credit_plan_get
from credits.services import conversion_charge, conversion_refund, credit_account_ensure, credits_grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def charged(owner, staff) -> uuid.UUID:
    credits_grant(user=owner, hundredths=300, actor=staff, reason="Welcome back")
    conversion = uuid.uuid4()
    conversion_charge(user=owner, conversion_uuid=conversion, characters=120_000)
    conversion_refund(conversion_uuid=conversion, rendered_characters=0)
    return conversion


def test_staff_see_the_ledger_with_signed_amounts_and_who_made_each_entry(staff_client, charged):
    page = staff_client.get(reverse("admin:credits_creditentry_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "owner@example.com" in html
    assert "Welcome back" in html
    assert "-2.40" in html  # 120,000 characters: 240 hundredths
    assert "+3.00" in html
    assert "staff@example.com" in html


def test_the_ledger_cannot_be_added_to_changed_or_deleted_in_the_admin(staff_client, charged):
    from credits.models import CreditEntry

    entry = CreditEntry.objects.order_by("id").first()
    assert entry is not None
    change_url = reverse("admin:credits_creditentry_change", args=[entry.pk])
    view = staff_client.get(change_url)
    assert view.status_code == 200
    assert b'name="_save"' not in view.content
    assert staff_client.post(change_url, {"amount": 100}).status_code == 403
    assert staff_client.get(reverse("admin:credits_creditentry_add")).status_code == 403
    assert staff_client.get(reverse("admin:credits_creditentry_delete", args=[entry.pk])).status_code == 403
    changelist = staff_client.get(reverse("admin:credits_creditentry_changelist"))
    assert b"delete_selected" not in changelist.content
    entry.refresh_from_db()
    assert entry.amount == 300


def test_pasting_a_conversion_uuid_finds_its_charge_and_refund(staff_client, charged, owner, staff):
    credits_grant(user=owner, hundredths=100, actor=staff, reason="Unrelated")
    page = staff_client.get(reverse("admin:credits_creditentry_changelist"), {"q": str(charged)})
    assert page.context["cl"].result_count == 2
    assert {e.kind for e in page.context["cl"].result_list} == {"charge", "refund"}


def test_the_ledger_can_be_searched_by_email(staff_client, charged, stranger, staff):
    credits_grant(user=stranger, hundredths=100, actor=staff, reason="x")
    page = staff_client.get(reverse("admin:credits_creditentry_changelist"), {"q": "stranger@"})
    assert page.context["cl"].result_count == 1


def test_a_stranger_cannot_open_the_ledger(client, stranger, charged):
    client.force_login(stranger)
    page = client.get(reverse("admin:credits_creditentry_changelist"))
    assert page.status_code == 302


def test_staff_see_balances_and_plans_with_a_link_to_each_ledger(staff_client, charged, owner):
    page = staff_client.get(reverse("admin:credits_creditaccount_changelist"))
    assert page.status_code == 200
    assert page.context["cl"].result_list[0].balance == 300
    assert "3.00 credits (about 2 h 25 min of audio)" in page.content.decode()
    detail = staff_client.get(reverse("admin:credits_creditaccount_change", args=[owner.pk]))
    assert f"?user__id__exact={owner.pk}".encode() in detail.content
    ledger = staff_client.get(reverse("admin:credits_creditentry_changelist"), {"user__id__exact": owner.pk})
    assert ledger.context["cl"].result_count == 3


def test_changing_a_plan_in_the_admin_never_writes_back_a_stale_balance(
    staff_client, staff, owner, charged, monkeypatch
):
    load = CreditAccountAdmin.get_object

    def load_then_money_moves(self, request, object_id, from_field=None):
        account = load(self, request, object_id, from_field)
        if request.method == "POST":  # a charge or grant lands after the admin read the row
            credits_grant(user=owner, hundredths=1000, actor=staff, reason="meanwhile")
        return account

    monkeypatch.setattr(CreditAccountAdmin, "get_object", load_then_money_moves)
    url = reverse("admin:credits_creditaccount_change", args=[owner.pk])
    response = staff_client.post(url, {"plan": Plan.PREMIUM, "balance": 999})
    assert response.status_code == 302
    assert credit_plan_get(user=owner) == Plan.PREMIUM
    assert credit_balance_get(user=owner) == 1300


def test_balance_rows_cannot_be_added_or_deleted_in_the_admin(staff_client, charged, owner):
    assert staff_client.get(reverse("admin:credits_creditaccount_add")).status_code == 403
    delete_url = reverse("admin:credits_creditaccount_delete", args=[owner.pk])
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert CreditAccount.objects.filter(user=owner).exists()


# --- The "grant credits" action -------------------------------------------------------------

CHANGELIST = reverse("admin:credits_creditaccount_changelist")


@pytest.fixture
def accounts(owner, stranger) -> list[CreditAccount]:
    for user in (owner, stranger):
        credit_account_ensure(user=user)
    return list(CreditAccount.objects.order_by("user__email"))


def choose_grant(client, accounts, **data):
    return client.post(
        CHANGELIST,
        {"action": "grant_credits", "_selected_action": [a.pk for a in accounts], **data},
    )


def grant_key_on(page) -> str:
    match = re.search(r'name="grant_key" value="([0-9a-f-]{36})"', page.content.decode())
    assert match, "the page carries its idempotency key"
    return match.group(1)


def test_the_grant_action_asks_for_an_amount_and_a_reason_and_lists_the_accounts(staff_client, accounts):
    page = choose_grant(staff_client, accounts)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/credits/grant_credits.html"
    html = page.content.decode()
    assert "owner@example.com" in html
    assert "stranger@example.com" in html
    assert 'name="amount"' in html
    assert 'name="reason"' in html
    grant_key_on(page)
    assert not CreditEntry.objects.exists(), "nothing moves before the form is sent"


def test_staff_grant_credits_to_each_selected_account_with_their_name_and_reason(
    staff_client, staff, accounts, owner, stranger
):
    key = grant_key_on(choose_grant(staff_client, accounts))
    response = choose_grant(
        staff_client, accounts, apply="yes", amount=4, reason="Beta testers", grant_key=key
    )
    assert response.status_code == 302
    assert (credit_balance_get(user=owner), credit_balance_get(user=stranger)) == (400, 400)
    entries = CreditEntry.objects.order_by("id")
    assert {(e.user, e.kind, e.amount, e.actor, e.reason) for e in entries} == {
        (owner, "staff_grant", 400, staff, "Beta testers"),
        (stranger, "staff_grant", 400, staff, "Beta testers"),
    }
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["Granted 4.00 credits to 2 accounts: owner@example.com, stranger@example.com."]


def test_staff_grant_fractions_of_a_credit(staff_client, accounts, owner):
    key = grant_key_on(choose_grant(staff_client, accounts[:1]))
    choose_grant(staff_client, accounts[:1], apply="yes", amount="2.5", reason="Refund", grant_key=key)
    assert credit_balance_get(user=owner) == 250


def test_sending_the_same_grant_page_twice_grants_once(staff_client, accounts, owner):
    key = grant_key_on(choose_grant(staff_client, accounts[:1]))
    form = {"apply": "yes", "amount": 2, "reason": "Outage", "grant_key": key}
    choose_grant(staff_client, accounts[:1], **form)
    again = choose_grant(staff_client, accounts[:1], **form)
    assert again.status_code == 302
    assert credit_balance_get(user=owner) == 200
    assert CreditEntry.objects.count() == 1
    assert "already had this grant" in str(list(get_messages(again.wsgi_request))[-1])


def test_a_new_grant_page_is_a_new_grant(staff_client, accounts, owner):
    for _ in range(2):
        key = grant_key_on(choose_grant(staff_client, accounts[:1]))
        choose_grant(staff_client, accounts[:1], apply="yes", amount=1, reason="x", grant_key=key)
    assert credit_balance_get(user=owner) == 200


@pytest.mark.parametrize(
    ("amount", "reason", "error"),
    [
        (0, "x", "greater than or equal to 0.01"),
        (-5, "x", "greater than or equal to 0.01"),
        ("0.005", "x", "no more than 2 decimal places"),
        (10_001, "x", "less than or equal to 10000"),
        (3, "   ", "This field is required."),
    ],
)
def test_a_bad_amount_or_an_empty_reason_shows_the_form_again_and_moves_nothing(
    staff_client, accounts, amount, reason, error
):
    key = grant_key_on(choose_grant(staff_client, accounts))
    page = choose_grant(staff_client, accounts, apply="yes", amount=amount, reason=reason, grant_key=key)
    assert page.status_code == 200
    assert error in page.content.decode()
    assert grant_key_on(page) == key, "the corrected form keeps its key"
    assert not CreditEntry.objects.exists()


def test_staff_who_may_only_view_balances_cannot_grant(client, accounts, owner):
    viewer = User.objects.create_user("viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_creditaccount"))
    client.force_login(viewer)
    assert client.get(CHANGELIST).status_code == 200
    assert b"grant_credits" not in client.get(CHANGELIST).content
    choose_grant(client, accounts, apply="yes", amount=5, reason="x", grant_key=str(uuid.uuid4()))
    assert credit_balance_get(user=owner) == 0
