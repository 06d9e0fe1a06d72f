"""The JSON API's answers to an address or a method it does not have, in its error format.

Django answered an address under /api/ that matches no operation (``/api/v1/task``,
``/api/v1/tasks/7``, ``/api/v1/tasks/``) with the staff site's HTML "page not found", and
django-ninja a method an address does not take (``DELETE /api/v1/alerts/1``) with the text
"Method not allowed": neither is JSON, and a client reading ``detail`` failed on them. Nor
was a fault of ours (a 500: Django's HTML error page); it is logged by Django as before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _


class ApiErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code not in (404, 405, 500) or not request.path.startswith("/api/"):
            return response
        if "json" in response.get("Content-Type", ""):
            return response  # the API's own answer (an object not found)
        from careloop.api import error_response

        if response.status_code == 500:
            return error_response(
                request, 500, _("Something went wrong on the server: the error has been logged.")
            )
        if response.status_code == 404:
            return error_response(
                request,
                404,
                _("The API has no operation at this address: see %(schema)s.")
                % {"schema": "/api/v1/openapi.json"},
            )
        allowed = response.get("Allow", "")
        answer = error_response(
            request,
            405,
            _("%(method)s is not allowed at this address (allowed: %(allowed)s).")
            % {"method": request.method, "allowed": allowed},
        )
        answer["Allow"] = allowed
        return answer
