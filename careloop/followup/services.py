"""Raising alerts (the lifecycle is in ``alert_flow``; other sources in ``alert_sources``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from careloop.followup.models import Alert

# How soon an alert must be answered, by severity (escalation uses these deadlines).
RESPONSE_TIME = {
    Alert.Severity.CRITICAL: timedelta(minutes=30),
    Alert.Severity.HIGH: timedelta(hours=4),
    Alert.Severity.MEDIUM: timedelta(hours=24),
    Alert.Severity.LOW: timedelta(days=3),
}


def new_alert(
    patient: Any,
    *,
    kind: str,
    severity: str,
    title: str,
    reason: str,
    details: dict[str, Any] | None = None,
    observation: Any = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    due_in: timedelta | None = None,
    task_id: int | None = None,
) -> Alert:
    """An alert for ``patient``, not saved yet (``raise_alert`` saves it; a batch saves
    many at once): owned by their organisation and assigned to ``assignee_id`` or else
    their responsible doctor (``unassigned``: to nobody, the team's queue), due by the
    severity's response time unless ``due_in`` says otherwise."""
    now = timezone.now()
    return Alert(
        patient_id=patient.pk,
        organisation_id=patient.organisation_id,
        kind=kind,
        severity=severity,
        title=title[:200],
        reason=reason,
        details=details or {},
        observation=observation,
        task_id=task_id,
        assignee_id=None if unassigned else (assignee_id or patient.responsible_doctor_id),
        due_at=now + (due_in or RESPONSE_TIME[Alert.Severity(severity)]),
        created_at=now,
    )


def raise_alert(patient: Any, **fields: Any) -> Alert:
    """Open an alert now (see ``new_alert`` for the fields)."""
    alert = new_alert(patient, **fields)
    alert.save()
    return alert


def critical_value_alert(patient: Any, observation: Any, threshold: str, source: str) -> Alert:
    """危急值: raised the moment the result is stored, saying what, how much and why."""
    value = observation.display_value
    when = timezone.localtime(observation.effective_at).strftime("%Y-%m-%d %H:%M")
    direction = "过低" if observation.interpretation == "LL" else "过高"
    unit = observation.unit_normalised or observation.unit
    reason = (
        f"{observation.name} {value}，{direction}，达到危急值（{threshold}"
        f"{' ' + unit if unit and threshold[-1:].isdigit() else ''}）。"
        f"检测时间 {when}，来源 {source}。请立即联系患者并通知责任医生。"
    )
    return raise_alert(
        patient,
        kind=Alert.Kind.CRITICAL_VALUE,
        severity=Alert.Severity.CRITICAL,
        title=f"危急值：{observation.name} {value}",
        reason=reason,
        details={
            "code": observation.code or observation.local_code,
            "item": observation.name,
            "value": observation.value,
            "unit": observation.unit,
            "value_normalised": observation.value_normalised,
            "unit_normalised": unit,
            "threshold": threshold,
            "interpretation": observation.interpretation,
            "source": source,
        },
        observation=observation,
    )
