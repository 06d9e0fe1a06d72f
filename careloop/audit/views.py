"""The audit log search page, for supervisors (their organisation) and administrators."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date

from careloop.audit.models import AuditEvent
from careloop.patients.access import patients_for, scope_organisation_ids


def events_for(user: object) -> QuerySet[AuditEvent]:
    """Events by staff of the user's organisations, or about patients the user can see."""
    org_ids = scope_organisation_ids(user)
    if org_ids is None:
        return AuditEvent.objects.all()
    visible = patients_for(user).values("pk")
    return AuditEvent.objects.filter(Q(organisation_id__in=org_ids) | Q(patient_id__in=visible))


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    events = events_for(request.user).select_related("actor")
    params = request.GET
    if username := params.get("user", "").strip():
        events = events.filter(actor_label__iexact=username)
    if (action := params.get("action", "")) in AuditEvent.Action.values:
        events = events.filter(action=action)
    card = params.get("card", "").replace(" ", "")
    patient_name = ""
    if card:
        patient = patients_for(request.user).filter(card_number=card).first()
        events = events.filter(patient_id=patient.pk if patient else -1)
        patient_name = patient.name if patient else ""
    tz = timezone.get_current_timezone()
    if day := parse_date(params.get("from", "") or ""):
        events = events.filter(at__gte=datetime.combine(day, time.min, tzinfo=tz))
    if day := parse_date(params.get("to", "") or ""):
        events = events.filter(at__lte=datetime.combine(day, time.max, tzinfo=tz))
    page = Paginator(events, 50).get_page(params.get("page"))
    patient_ids = {e.patient_id for e in page if e.patient_id}
    patients = patients_for(request.user).in_bulk(patient_ids)
    query = params.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            "rows": [(event, patients.get(event.patient_id)) for event in page],
            "actions": AuditEvent.Action.choices,
            "filters": params,
            "patient_name": patient_name,
            "querystring": query.urlencode(),
        },
    )
