"""The status page (``/status``): is the service taking work, how deep are the queues, which workers answer.

It is the feature rolled out to staff first: the ``status_page`` waffle flag
starts with ``staff=True``, and staff set it to Everyone when it is ready.
Whoever the flag is off for gets a 404, as for a page that does not exist.
Worker names and heartbeats are shown to staff only, whoever else can see the page.

Nothing here is part of readiness (``/readyz``): workers being down is news
for this page, not a reason to stop serving downloads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ebookvoice import flags, queues

# What the apps add to the page, each a function of whether staff are looking that
# answers a dict of figures: registered by the app that owns them (``AudiobooksConfig.ready``).
FiguresProvider = Callable[[bool], dict[str, Any]]
_FIGURES: list[FiguresProvider] = []


def register_status_figures(provide: FiguresProvider) -> None:
    if provide not in _FIGURES:
        _FIGURES.append(provide)


def status_data(*, staff: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "accepting_work": not flags.maintenance_on(),
        "maintenance_message": flags.MAINTENANCE_MESSAGE if flags.maintenance_on() else "",
    }
    try:
        data["queues"] = queues.queue_depths()
        data["broker"] = "ok"
    except queues.BrokerUnavailable as error:
        data["queues"], data["broker"] = None, f"unavailable ({error})"
    try:
        answered = queues.workers_ping()
    except queues.BrokerUnavailable:
        answered = None
    data["workers_answering"] = None if answered is None else len(answered)
    if staff:
        data["workers_ping"] = None if answered is None else sorted(answered)
        data["switches_on"] = sorted(flags._active_switches())
    for provide in _FIGURES:
        data.update(provide(staff))
    return data


@never_cache
@require_safe
def status_page(request: HttpRequest) -> HttpResponse:
    if not flags.feature_active(request, flags.STATUS_PAGE):
        raise Http404("No such page.")
    user = getattr(request, "user", None)
    staff = bool(user and user.is_authenticated and user.is_staff)
    data = status_data(staff=staff)
    if request.GET.get("format") == "json":
        return JsonResponse(data)
    context = {**admin.site.each_context(request), "title": "Service status", "status": data, "staff": staff}
    return TemplateResponse(request, "admin/ebookvoice/status.html", context)
