from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from credits.admin import CreditAccountAdmin
from credits.models import CreditAccount, Plan
from credits.selectors import credit_balance_get, credit_plan_get
from credits.services import conversion_charge, conversion_refund, credits_grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def charged(owner, staff) -> uuid.UUID:
    credits_grant(user=owner, amount=3, actor=staff, reason="Welcome back")
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
    assert "-3" in html
    assert "+3" in html
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
    assert entry.amount == 3


def test_pasting_a_conversion_uuid_finds_its_charge_and_refund(staff_client, charged, owner, staff):
    credits_grant(user=owner, amount=1, actor=staff, reason="Unrelated")
    page = staff_client.get(reverse("admin:credits_creditentry_changelist"), {"q": str(charged)})
    assert page.context["cl"].result_count == 2
    assert {e.kind for e in page.context["cl"].result_list} == {"charge", "refund"}


def test_the_ledger_can_be_searched_by_email(staff_client, charged, stranger, staff):
    credits_grant(user=stranger, amount=1, actor=staff, reason="x")
    page = staff_client.get(reverse("admin:credits_creditentry_changelist"), {"q": "stranger@"})
    assert page.context["cl"].result_count == 1


def test_a_stranger_cannot_open_the_ledger(client, stranger, charged):
    client.force_login(stranger)
    page = client.get(reverse("admin:credits_creditentry_changelist"))
    assert page.status_code == 302


def test_staff_see_balances_and_plans_with_a_link_to_each_ledger(staff_client, charged, owner):
    page = staff_client.get(reverse("admin:credits_creditaccount_changelist"))
    assert page.status_code == 200
    assert page.context["cl"].result_list[0].balance == 3
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
            credits_grant(user=owner, amount=10, actor=staff, reason="meanwhile")
        return account

    monkeypatch.setattr(CreditAccountAdmin, "get_object", load_then_money_moves)
    url = reverse("admin:credits_creditaccount_change", args=[owner.pk])
    response = staff_client.post(url, {"plan": Plan.PREMIUM, "balance": 999})
    assert response.status_code == 302
    assert credit_plan_get(user=owner) == Plan.PREMIUM
    assert credit_balance_get(user=owner) == 13


def test_balance_rows_cannot_be_added_or_deleted_in_the_admin(staff_client, charged, owner):
    assert staff_client.get(reverse("admin:credits_creditaccount_add")).status_code == 403
    delete_url = reverse("admin:credits_creditaccount_delete", args=[owner.pk])
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert CreditAccount.objects.filter(user=owner).exists()
