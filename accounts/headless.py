"""Magic links in allauth's headless API for apps (``/_allauth/app/v1/``).

Built on allauth's headless views, so responses have allauth's shape and a
successful exchange returns the app session token in ``meta.session_token``,
exactly like a password login.
"""

from __future__ import annotations

from typing import Any

from allauth.core import ratelimit
from allauth.headless.base.response import AuthenticationResponse, ConflictResponse
from allauth.headless.base.views import APIView
from allauth.headless.internal.restkit import inputs
from allauth.headless.internal.restkit.response import APIResponse, ErrorResponse
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from .magic_links import MagicLinkRejected, magic_link_send, magic_link_sign_in
from .ratelimits import TOO_MANY_REQUESTS, action_retry_after, too_many_requests
from .views import TOO_MANY_LINKS


class MagicLinkRequestInput(inputs.Input):
    email = inputs.EmailField()


class MagicLinkLoginInput(inputs.Input):
    token = inputs.CharField(max_length=128)


class MagicLinkRequestView(APIView):
    """Email a sign-in link; the answer is the same whether or not the address has an account."""

    input_class = MagicLinkRequestInput
    input: MagicLinkRequestInput

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        email = self.input.cleaned_data["email"]
        if not ratelimit.consume(request, action="magic_link_request", key=email.lower()):
            retry_after = action_retry_after("magic_link_request")
            return too_many_requests(request, message=TOO_MANY_LINKS, retry_after=retry_after)
        magic_link_send(request=request, email=email)
        return APIResponse(request)


class MagicLinkLoginView(APIView):
    """Exchange a magic link's token for an app session."""

    input_class = MagicLinkLoginInput
    input: MagicLinkLoginInput

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return ConflictResponse(request)
        if not ratelimit.consume(request, action="magic_link_login"):
            retry_after = action_retry_after("magic_link_login")
            return too_many_requests(request, message=TOO_MANY_REQUESTS, retry_after=retry_after)
        try:
            response = magic_link_sign_in(request=request, token=self.input.cleaned_data["token"])
        except MagicLinkRejected as rejection:
            error = ValidationError(rejection.message, code=f"magic_link_{rejection.state}")
            return ErrorResponse(request, exception=error)
        return AuthenticationResponse.from_response(request, response)


magic_link_request = MagicLinkRequestView.as_api_view(client="app")
magic_link_login = MagicLinkLoginView.as_api_view(client="app")
