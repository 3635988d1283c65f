"""The API docs under the Content-Security-Policy: no inline script or style on either page.

Swagger UI is drf-spectacular's ``SpectacularSwaggerSplitView`` (its start-up
script is a second request to the same URL) with the page's inline ``<style>``
moved to ``static/css/api-docs.css`` (``templates/drf_spectacular/swagger_ui.html``).

Redoc gets the same split here: ``?script`` answers the Redoc bundle, and
``static/js/redoc-init.js`` starts it from the page's data attributes. Two
things in the bundle would break the policy, so it is served with two
one-string changes (each checked, so a new sidecar version cannot silently
undo them):

- Redoc writes its styles into ``<style>`` elements, some as the bundle
  loads, before any option could reach it. webpack puts its nonce
  (``__webpack_nonce__``, minified ``r.nc``) on every such element, so the
  bundle takes the nonce of its own ``<script>`` tag, the request's CSP nonce:
  the policy needs neither ``'unsafe-inline'`` nor hashes.
- It shows Redocly's logo from ``cdn.redoc.ly``; the docs load nothing from a
  CDN, so that address becomes an empty image.

Redoc's search runs in a Web Worker made from a ``blob:`` URL, so this page
alone allows ``worker-src blob:`` (only scripts the policy already let run can
make one).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from csp import constants as csp_constants
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOC_PATCHES = (
    # webpack's style nonce: from the bundle's own <script nonce> instead of none.
    (b"r.nc=void 0", b"r.nc=document.currentScript?document.currentScript.nonce:void 0"),
    (
        b"https://cdn.redoc.ly/redoc/logo-mini.svg",
        b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
    ),
)
REDOC_PAGE_POLICY = {"worker-src": [csp_constants.SELF, "blob:"]}

SwaggerDocsView = SpectacularSwaggerSplitView


@cache
def redoc_bundle() -> bytes:
    path = finders.find(REDOC_BUNDLE)
    if not isinstance(path, str):
        raise FileNotFoundError(REDOC_BUNDLE)
    with open(path, "rb") as bundle:
        code = bundle.read()
    for old, new in REDOC_PATCHES:
        if code.count(old) != 1:
            raise RuntimeError(f"{REDOC_BUNDLE} changed: {old!r} is not there once; see ebookvoice.api.docs")
        code = code.replace(old, new)
    return code


class RedocDocsView(SpectacularRedocView):
    """The Redoc page; ``?script``: the Redoc bundle, with nothing in it fetched from a CDN."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.GET.get("script") is not None:
            response = HttpResponse(redoc_bundle(), content_type="application/javascript")
            patch_cache_control(response, public=True, max_age=3600)
            return response
        page = Response(
            data={
                "title": self.title,
                "redoc_script": f"{request.path}?script=",
                "schema_url": self._get_schema_url(request),
            },
            template_name=self.template_name,
        )
        page._csp_update = page._csp_update_ro = REDOC_PAGE_POLICY  # type: ignore[attr-defined]
        return page
