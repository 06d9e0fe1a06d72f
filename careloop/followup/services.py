"""Raising alerts (the lifecycle is in ``alert_flow``; other sources in ``alert_sources``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from careloop.accounts.models import Organisation
from careloop.followup.models import Alert
from careloop.patients.access import staff_sees

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
    memo: dict[Any, Any] | None = None,
) -> Alert:
    """An alert for ``patient``, not saved yet (``raise_alert`` saves it; a batch saves
    many at once): owned by their organisation and assigned to ``assignee_id`` or else
    their responsible doctor (``unassigned``: to nobody, the team's queue), due by the
    severity's response time unless ``due_in`` says otherwise. An owner who cannot open the
    patient (of another department, moved, inactive) is passed over for the nearest one
    who can (``nearest_owner``). ``memo``: a dict kept for a batch of alerts
    (``staff_sees``)."""
    now = timezone.now()
    owner = None if unassigned else (assignee_id or patient.responsible_doctor_id)
    if owner is not None and not staff_sees(owner, patient, memo):
        owner = nearest_owner(patient.organisation_id)
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
        assignee_id=owner,
        due_at=now + (due_in or RESPONSE_TIME[Alert.Severity(severity)]),
        created_at=now,
    )


def nearest_owner(organisation_id: int) -> int | None:
    """The least busy doctor, else supervisor, of the organisation (a patient's) or the
    nearest above it (they see its patients); None when there is none (its queue)."""
    from careloop.followup.alert_flow import ESCALATE_TO, least_busy

    organisation = Organisation.objects.get(pk=organisation_id)
    for role in ESCALATE_TO:
        found = least_busy(role, organisation.lineage[::-1], None)
        if found is not None:
            return found.pk
    return None


def raise_alert(patient: Any, **fields: Any) -> Alert:
    """Open an alert now (see ``new_alert`` for the fields)."""
    from careloop.interop.webhook_events import alerts_created

    alert = new_alert(patient, **fields)
    alert.save()
    alerts_created([alert.pk])
    return alert


def critical_value_alert(patient: Any, observation: Any, threshold: str, source: str) -> Alert:
    """危急值: raised the moment the result is stored, saying what, how much and why."""
    value = observation.display_value
    when = timezone.localtime(observation.effective_at).strftime("%Y-%m-%d %H:%M")
    unit = observation.unit_normalised or observation.unit
    if observation.value is None:  # a qualitative result: a positive culture, or flagged
        what = f"{observation.name}：{value}，为危急值（{threshold or '检验科标记'}）"
    else:
        direction = "过低" if observation.interpretation == "LL" else "过高"
        what = (
            f"{observation.name} {value}，{direction}，达到危急值（{threshold}"
            f"{' ' + unit if unit and threshold[-1:].isdigit() else ''}）"
        )
    reason = f"{what}。检测时间 {when}，来源 {source}。请立即联系患者并通知责任医生。"
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
