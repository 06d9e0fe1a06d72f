"""/api/v1/alerts: alerts on the patients you can see, one alert with its history, and its
lifecycle (acknowledge, start, resolve, verify, reopen, assign, note)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from careloop.accounts.models import User
from careloop.api import (
    ERROR_RESPONSES,
    ErrorOut,
    InvalidFields,
    invalid_field,
    page_links,
    page_of,
)
from careloop.audit.services import record
from careloop.followup.alert_flow import TRANSITIONS, AlertConflict, Step, do_transition
from careloop.followup.models import Alert, AlertEvent
from careloop.followup.staff import staff_who_can
from careloop.patients.access import get_patient_for, patients_for

router = Router()


class AlertParams(Schema):
    patient: int | None = Field(None, ge=1, le=2**63 - 1, description="a patient id")
    status: str | None = Field(
        None, description="open, acknowledged, in_progress, resolved or verified"
    )
    page: int = Field(1, ge=1, le=2**31 - 1, description="from 1")
    page_size: int = Field(50, ge=1, description="at most 200")


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
    escalation_level: int
    resolution: str
    outcome: str
    resolved_at: datetime | None
    verified_by: str | None
    verified_at: datetime | None
    created_at: datetime


class EventOut(Schema):
    action: str
    from_status: str
    to_status: str
    actor: str | None
    note: str
    at: datetime


class AlertDetail(AlertOut):
    events: list[EventOut]


class TransitionIn(Schema):
    action: str = Field(
        ..., description="acknowledge, start, resolve, verify, reopen, assign or note"
    )
    note: str = Field("", max_length=2000)
    resolution: str = Field(
        "",
        description="with resolve: handled, doctor_notified, revisit_booked, referred, "
        "emergency, unreachable or no_action",
    )
    outcome: str = Field("", max_length=2000, description="with resolve: what was done")
    assignee: str | None = Field(None, description="with assign: a username, or me")


class AlertPage(Schema):
    count: int
    page: int
    page_size: int
    next: str | None = Field(description="the next page's address, with the same filters")
    previous: str | None = Field(description="the previous page's address")
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
        escalation_level=alert.escalation_level,
        resolution=alert.resolution,
        outcome=alert.outcome,
        resolved_at=alert.resolved_at,
        verified_by=alert.verified_by.get_username() if alert.verified_by else None,
        verified_at=alert.verified_at,
        created_at=alert.created_at,
    )


@router.get("", response={200: AlertPage, **ERROR_RESPONSES}, summary="List alerts")
def list_alerts(request: HttpRequest, params: Query[AlertParams]) -> AlertPage:
    """Alerts on patients you can see, newest first; filter by ``patient`` and ``status``
    (open, acknowledged, in_progress, resolved, verified)."""
    if not request.user.has_perm("followup.view_alert"):  # as one alert (``_visible``)
        raise PermissionDenied
    alerts = Alert.objects.filter(patient__in=patients_for(request.user).values("pk"))
    if params.patient is not None:
        get_patient_for(request.user, params.patient)  # 404 outside the user's reach, as tasks
        alerts = alerts.filter(patient_id=params.patient)
    if params.status:
        if params.status not in Alert.Status.values:
            raise invalid_field(
                "status",
                _("status must be one of: %(choices)s")
                % {"choices": ", ".join(Alert.Status.values)},
            )
        alerts = alerts.filter(status=params.status)
    alerts = alerts.select_related("observation", "assignee", "verified_by")
    items, count, size = page_of(alerts, params.page, params.page_size)
    record(
        request.user,
        "list",
        "alert",
        patient_id=params.patient,
        summary=f"alerts ({len(items)} shown)",
    )
    next_page, previous_page = page_links(request, params.page, size, count)
    return AlertPage(
        count=count,
        page=params.page,
        page_size=size,
        next=next_page,
        previous=previous_page,
        results=[alert_out(a) for a in items],
    )


def _visible(request: HttpRequest, alert_id: int) -> Alert:
    if not request.user.has_perm("followup.view_alert"):
        raise PermissionDenied
    alert = get_object_or_404(
        Alert.objects.select_related("observation", "assignee", "verified_by"), pk=alert_id
    )
    get_patient_for(request.user, alert.patient_id)
    return alert


def event_out(event: AlertEvent) -> EventOut:
    return EventOut(
        action=event.action,
        from_status=event.from_status,
        to_status=event.to_status,
        actor=event.actor.get_username() if event.actor else None,
        note=event.note,
        at=event.at,
    )


def alert_detail(alert: Alert) -> AlertDetail:
    events = [event_out(e) for e in alert.events.select_related("actor")]
    return AlertDetail(**alert_out(alert).dict(), events=events)


@router.get("/{alert_id}", response={200: AlertDetail, **ERROR_RESPONSES}, summary="One alert")
def get_alert(request: HttpRequest, alert_id: int) -> AlertDetail:
    """An alert with every step of its life (who, when, from what to what, why)."""
    alert = _visible(request, alert_id)
    record(request.user, "view", "alert", alert.pk, patient_id=alert.patient_id)
    return alert_detail(alert)


@router.post(
    "/{alert_id}/transition",
    response={200: AlertDetail, 409: ErrorOut, **ERROR_RESPONSES},
    summary="Move an alert on",
)
def post_transition(request: HttpRequest, alert_id: int, body: TransitionIn) -> AlertDetail:
    """open → ``acknowledge`` → acknowledged → ``start`` → in_progress → ``resolve`` (with
    ``resolution`` and ``outcome``) → resolved → ``verify`` (supervisors) → verified;
    ``reopen`` sends a resolved alert back (supervisors, with a ``note``); ``assign`` hands
    it to ``assignee``; ``note`` adds a note. 409 when the alert is not in a state the
    action applies to."""
    alert = _visible(request, alert_id)
    get_patient_for(request.user, alert.patient_id, write=True)  # not on a read share
    if body.action not in TRANSITIONS:
        raise invalid_field(
            "action", _("action must be one of: %(choices)s") % {"choices": ", ".join(TRANSITIONS)}
        )
    assignee: User | None = None
    if body.assignee == "me":
        assignee = request.user  # type: ignore[assignment]  # authenticated by the API
    elif body.assignee:
        assignee = (
            staff_who_can(request.user, "change_alert").filter(username=body.assignee).first()
        )
        if assignee is None:
            raise invalid_field(
                "assignee", _("assignee: not someone in your organisation who handles alerts")
            )
    step = Step(
        action=body.action,
        note=body.note,
        resolution=body.resolution,
        outcome=body.outcome,
        assignee=assignee,
    )
    try:
        alert = do_transition(alert, request.user, step)
    except AlertConflict as exc:
        raise HttpError(409, " ".join(exc.messages)) from exc
    except ValidationError as exc:  # names the field missing (resolution, outcome, note …)
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"action": exc.messages}
        raise InvalidFields(errors, detail=" ".join(exc.messages)) from exc
    return alert_detail(_visible(request, alert.pk))
