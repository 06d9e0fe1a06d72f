"""Project-level pages: the home page and the health check."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from careloop import __version__
from careloop.audit.models import AuditEvent
from careloop.audit.services import record
from careloop.patients.access import patients_for
from careloop.typing import AuthedRequest


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except Exception as exc:  # any database failure is reported, not raised
        database = f"error: {type(exc).__name__}"
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {
            "status": "ok" if status == 200 else "unavailable",
            "database": database,
            "version": __version__,
        },
        status=status,
    )


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """工作台: what the user can see, and the patients they opened last."""
    visible = patients_for(request.user)
    month_start = timezone.localdate().replace(day=1)
    recent_ids = list(
        AuditEvent.objects.filter(
            actor=request.user,
            action="view",
            object_type="patient",
            at__gte=timezone.now() - timedelta(days=30),
        ).values_list("patient_id", flat=True)[:200]
    )
    seen: list[int] = []
    for pk in recent_ids:
        if pk and pk not in seen:
            seen.append(pk)
    by_id = visible.in_bulk(seen[:8])
    if by_id:
        record(
            request.user,
            "list",
            "patient",
            summary="recently opened, on the home page",
            changes={"shown": list(by_id)},
        )
    context = {
        "patient_count": visible.count(),
        "enrolled_this_month": visible.filter(created_at__date__gte=month_start).count(),
        "recent_patients": [by_id[pk] for pk in seen[:8] if pk in by_id],
    }
    return render(request, "home.html", context)
