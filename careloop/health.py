"""/healthz answered before anything looks at the request's host or scheme.

A load balancer (or an orchestrator's probe) asks each machine by its own address, over
plain HTTP: ``Host: 10.0.0.5:8000``. Behind Django's host check (CARELOOP_ALLOWED_HOSTS
names the public host alone) that is a 400, and with CARELOOP_SSL_REDIRECT a 301, so every
machine would be taken out of service. The answer carries no address, so the host it was
asked by does not matter.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEALTH_PATH = "/healthz"


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == HEALTH_PATH and request.method in ("GET", "HEAD"):
            from careloop.views import healthz

            return healthz(request)
        return self.get_response(request)
