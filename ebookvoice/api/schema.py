"""The OpenAPI schema's shared parts: every operation documents the error envelope.

``ApiAutoSchema`` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) adds to each
operation a 401 when it needs a session, and a ``default`` response with the
envelope, so that every status an endpoint can answer (a 404, a 429 …) is
described and a client generated from the schema can read any error. Views
list the errors particular to them with ``errors(...)``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from .errors import ErrorSerializer

DESCRIPTIONS = {
    400: "The request is not valid; `error.fields` lists each field's problems.",
    401: "No session, or it has ended: sign in through `/_allauth/app/v1/` and send `X-Session-Token`.",
    402: "Not enough credits, or credits owed after a refunded or disputed payment.",
    403: "A browser request without its CSRF token.",
    404: "No such object among yours (another person's objects are not found either).",
    409: (
        "The object is not in a state that allows this; or this site takes no payments; or more is "
        "stored than the plan allows (after a plan ended): delete some books first."
    ),
    410: "Too late: the upload expired.",
    413: "Over the upload cap or the storage quota.",
    415: "A file type, or a request body type, that is not accepted.",
    422: "The request contradicts an earlier one (an `Idempotency-Key` reused with another body).",
    429: "Over a rate limit; `Retry-After` says when to try again.",
    503: "A service this needs is down for a moment; `Retry-After` says when to try again.",
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait before trying again.",
)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Responses for ``extend_schema``: the envelope under each of these statuses."""
    return {code: OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code]) for code in codes}


class SessionTokenScheme(OpenApiAuthenticationExtension):
    """``X-Session-Token``: the ``meta.session_token`` of allauth's headless API for apps."""

    target_class = "accounts.authentication.SessionTokenAuthentication"
    name = "SessionToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Session-Token",
            "description": (
                "Sign in through `/_allauth/app/v1/auth/login` (or sign up, or a code, a magic "
                "link, Google) and send the response's `meta.session_token`."
            ),
        }


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        auths = self.get_auth()
        # An empty requirement ({}) means the operation also answers without a session.
        if auths and {} not in auths and "401" not in responses:
            responses["401"] = self._get_response_for_code(errors(401)[401], "401", direction=direction)
        responses.setdefault(
            "default",
            self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description="Any other error, in the same envelope."),
                "default",
                direction=direction,
            ),
        )
        return responses
