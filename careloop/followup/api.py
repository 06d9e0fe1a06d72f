"""/api/v1/alerts: alerts on the patients you can see (the lifecycle endpoints come with F12)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from careloop.api import ERROR_RESPONSES, page_of
from careloop.audit.services import record
from careloop.followup.models import Alert
from careloop.patients.access import patients_for

router = Router()


class AlertParams(Schema):
    patient: int | None = Field(None, ge=1, le=2**63 - 1, description="a patient id")
    status: str | None = None
    page: int = 1
    page_size: int = 50


class ObservationRef(Schema):
    id: int
    code: str
    name: str
    value: float | None
    value_text: str
    unit: str
    interpretation: str


class AlertOut(Schema):
    id: int
    patient: int
    kind: str
    severity: str
    status: str
    title: str
    reason: str
    details: dict[str, Any]
    observation: ObservationRef | None
    assignee: str | None
    due_at: datetime | None
    created_at: datetime


class AlertPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[AlertOut]


def alert_out(alert: Alert) -> AlertOut:
    observation = alert.observation
    return AlertOut(
        id=alert.pk,
        patient=alert.patient_id,
        kind=alert.kind,
        severity=alert.severity,
        status=alert.status,
        title=alert.title,
        reason=alert.reason,
        details=alert.details,
        observation=ObservationRef(
            id=observation.pk,
            code=observation.code or observation.local_code,
            name=observation.name,
            value=observation.value,
            value_text=observation.value_text,
            unit=observation.unit,
            interpretation=observation.interpretation,
        )
        if observation
        else None,
        assignee=alert.assignee.get_username() if alert.assignee else None,
        due_at=alert.due_at,
        created_at=alert.created_at,
    )


@router.get("", response={200: AlertPage, **ERROR_RESPONSES}, summary="List alerts")
def list_alerts(request: HttpRequest, params: Query[AlertParams]) -> AlertPage:
    """Alerts on patients you can see, newest first; filter by ``patient`` and ``status``
    (open, acknowledged, in_progress, resolved, verified)."""
    if not request.user.has_perm("patients.view_patient"):
        raise PermissionDenied
    alerts = Alert.objects.filter(patient__in=patients_for(request.user).values("pk"))
    if params.patient is not None:
        alerts = alerts.filter(patient_id=params.patient)
    if params.status:
        alerts = alerts.filter(status=params.status)
    alerts = alerts.select_related("observation", "assignee")
    items, count, size = page_of(alerts, params.page, params.page_size)
    record(
        request.user,
        "list",
        "alert",
        patient_id=params.patient,
        summary=f"alerts ({len(items)} shown)",
    )
    return AlertPage(
        count=count,
        page=params.page,
        page_size=size,
        results=[alert_out(a) for a in items],
    )
