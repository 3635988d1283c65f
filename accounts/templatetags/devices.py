from __future__ import annotations

from django import template

from accounts.devices import device_name

register = template.Library()


@register.filter
def device(user_agent: str | None) -> str:
    """``{{ session.user_agent|device }}``: the browser and system in words."""
    return device_name(user_agent or "")
