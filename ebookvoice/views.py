from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page for visitors; a signed-in reader's home is their library."""
    if request.user.is_authenticated:
        return redirect("audiobooks:library")
    return render(request, "home.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Readiness of its dependencies is another probe."""
    return HttpResponse("ok", content_type="text/plain")
