"""Refuses a request whose query string holds a NUL character.

PostgreSQL text cannot hold NUL (0x00), so a parameter such as ``?org=%00`` would reach a
query and fail with a server error; SQLite would silently match nothing. The request is
answered 400 naming the parameter, in the error shape of the part of the site it was for.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

FHIR_JSON = "application/fhir+json"


def nul_parameter(request: HttpRequest) -> str | None:
    """The name of the first query parameter whose name or value holds NUL, else None."""
    if "%00" not in request.META.get("QUERY_STRING", ""):
        return None
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "") or "?"
    return None


class NulQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = nul_parameter(request)
        if name is None:
            return self.get_response(request)
        message = _("The parameter contains a NUL (0x00) character.")
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": message, "errors": [{"field": name, "message": message}]}, status=400
            )
        if request.path.startswith("/fhir/"):
            body = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "error", "code": "invalid", "diagnostics": f"{name}: {message}"}
                ],
            }
            return JsonResponse(body, status=400, content_type=FHIR_JSON)
        return HttpResponseBadRequest(
            f"{name}: {message}", content_type="text/plain; charset=utf-8"
        )
