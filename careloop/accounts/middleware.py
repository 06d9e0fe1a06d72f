"""Two-factor login: administrators must use it (every staff member with
``CARELOOP_TWO_FACTOR_ALL_STAFF``); anyone who turned it on must pass it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import user_has_device

# Paths a half-logged-in user may still reach: log-in and log-out, the two pages that take
# the code, language switching and static files. Everything else under /accounts/ (turning
# two-factor off, changing the password) needs the code first. The JSON and FHIR APIs
# authenticate by token, never by session.
_OPEN_PREFIXES = (
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/2fa/setup/",
    "/accounts/2fa/verify/",
    "/i18n/",
    "/static/",
    "/healthz",
    "/api/",
    "/fhir/",
)


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(_OPEN_PREFIXES)
            and not getattr(user, "is_verified", lambda: False)()
        ):
            if user_has_device(user, confirmed=True):
                return _to(request, "accounts:otp_verify")
            if getattr(user, "requires_two_factor", False):
                return _to(request, "accounts:otp_setup")
        return self.get_response(request)


def _to(request: HttpRequest, name: str) -> HttpResponse:
    """The code page, coming back afterwards to the page asked for (/admin/ …) when it was
    a page to read (a form sent before the code is not sent again)."""
    if request.method != "GET":
        return redirect(name)
    return redirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")
