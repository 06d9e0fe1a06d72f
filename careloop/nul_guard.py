"""Refuses a request that carries a NUL character in its query string or its JSON body.

PostgreSQL text cannot hold NUL (0x00), so ``?org=%00`` or ``{"name": "张\\u0000三"}`` would
reach a query and fail with a server error; SQLite would store or match it silently. The
request is answered 400 naming the parameter (or the body), in the error shape of the part of
the site it was for: the API's, an OperationOutcome on FHIR, plain text elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

# A JSON escape for NUL: \u0000 after an even number of backslashes (\\u0000 is text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def nul_parameter(request: HttpRequest) -> str | None:
    """The name of the first query parameter whose name or value holds NUL, "body" when
    a JSON body for the API or FHIR does, else None."""
    if "%00" in request.META.get("QUERY_STRING", ""):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return name.replace("\x00", "") or "?"
    if (
        request.method in ("POST", "PUT", "PATCH")
        and "json" in (request.content_type or "")
        and request.path.startswith(("/api/", "/fhir/"))  # provider callbacks are kept raw
    ):
        body = request.body
        if b"\x00" in body or _JSON_NUL.search(body):
            return "body"
    return None


class NulQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            name = nul_parameter(request)
        except RequestDataTooBig:
            # Read here, before the user is known: left to Django, its 400 page failed to
            # render (no request.user) and the sender got a 500 naming nothing.
            limit = (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) // 1024
            message = _("The request body is larger than %(limit)d KB.") % {"limit": limit}
            return _refused(request, 413, "body", message)
        if name is None:
            return self.get_response(request)
        if name == "body":
            message = _("The request body contains a NUL (0x00) character.")
        else:
            message = _("The parameter contains a NUL (0x00) character.")
        return _refused(request, 400, name, message)


def _refused(request: HttpRequest, status: int, name: str, message: str) -> HttpResponse:
    """The refusal in the error shape of the part of the site the request was for."""
    if request.path.startswith("/api/"):
        from careloop.api import error_response

        return error_response(request, status, message, {name: [message]})
    if request.path.startswith("/fhir/"):
        from careloop.interop.fhir.outcome import issue, outcome
        from careloop.interop.fhir.views import respond

        return respond(outcome([issue(f"{name}: {message}")]), status)
    return HttpResponse(
        f"{name}: {message}", status=status, content_type="text/plain; charset=utf-8"
    )
