"""Staff forms for moving credits; they only validate, the services move the money."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms

from .pricing import parse_credits

# A guard against a slipped finger, not a policy: bigger grants go through
# the command, one user at a time.
MAX_ADMIN_GRANT = 10_000


class GrantCreditsForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=MAX_ADMIN_GRANT,
        decimal_places=2,
        help_text="Credits for each selected account, to the hundredth (2.5 is two and a half credits).",
    )
    reason = forms.CharField(
        max_length=500, help_text="Kept on each ledger entry; the user may see it in their history."
    )
    # Made when the form is first shown and sent back with it: a second
    # submit of the same page (a double click, a reload) replays the same
    # keys, so no money moves twice.
    grant_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"grant_key": uuid.uuid4()})
        super().__init__(*args, **kwargs)

    def hundredths(self) -> int:
        return parse_credits(self.cleaned_data["amount"])

    def idempotency_key(self, *, user_id: int) -> str:
        return f"grant:admin:{self.cleaned_data['grant_key']}:{user_id}"
