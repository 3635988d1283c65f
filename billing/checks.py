"""``manage.py check`` reports billing settings that do not agree (production refuses them at start-up)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from . import conf


@register()
def billing_settings_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [Error(problem, id="billing.E001") for problem in conf.configuration_problems()]
