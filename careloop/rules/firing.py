"""Firing matched rules: a ``RuleFiring`` for each (what the rule saw, why, what it did), then
its actions. Runs inside the caller's transaction, so a firing and its effects are stored
together or not at all."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from careloop.audit.services import record
from careloop.followup.models import Alert
from careloop.followup.services import raise_alert
from careloop.patients.models import Patient, PatientTag, Tag, TagEvent
from careloop.rules.actions import AddTag, RaiseAlert, RemoveTag, SetTier
from careloop.rules.engine import Match
from careloop.rules.models import RuleFiring


class _Tags:
    """Tag rows by name, created on first use."""

    def __init__(self) -> None:
        self.by_name: dict[str, Tag] = {}

    def get(self, name: str) -> Tag:
        if name not in self.by_name:
            self.by_name[name] = Tag.objects.get_or_create(name=name)[0]
        return self.by_name[name]


def _apply(
    action: Any, patient: Patient, firing: RuleFiring, match: Match, tags: _Tags
) -> dict[str, Any]:
    rule = match.rule
    if isinstance(action, AddTag):
        tag = tags.get(action.tag)
        _, added = PatientTag.objects.get_or_create(
            patient=patient, tag=tag, defaults={"rule_id": rule.pk}
        )
        if added:
            TagEvent.objects.create(
                patient=patient, tag=tag, action=TagEvent.Action.ADDED, firing=firing
            )
        return {"type": "tag", "tag": action.tag, "changed": added}
    if isinstance(action, RemoveTag):
        tag = tags.get(action.tag)
        removed, _ = PatientTag.objects.filter(patient=patient, tag=tag).delete()
        if removed:
            TagEvent.objects.create(
                patient=patient, tag=tag, action=TagEvent.Action.REMOVED, firing=firing
            )
        return {"type": "untag", "tag": action.tag, "changed": bool(removed)}
    if isinstance(action, SetTier):
        before = getattr(patient, action.field)
        if before != action.value:
            setattr(patient, action.field, action.value)
            Patient.objects.filter(pk=patient.pk).update(**{action.field: action.value})
            record(
                None,
                "update",
                "patient",
                patient.pk,
                patient_id=patient.pk,
                actor_label=f"rule:{rule.code}"[:150],
                summary=f"{action.describe()}（规则 {rule.code} v{rule.version}）",
                changes={action.field: [before, action.value]},
            )
        return {
            "type": action.field,
            "value": action.value,
            "before": before,
            "changed": before != action.value,
        }
    assert isinstance(action, RaiseAlert)
    assignee_id = (
        patient.health_manager_id
        if action.assignee == "health_manager"
        else patient.responsible_doctor_id
    )
    alert = raise_alert(
        patient,
        kind=Alert.Kind.RULE,
        severity=action.severity,
        title=action.title,
        reason="；".join(match.reasons) + f"。（规则：{rule.name}，v{rule.version}）",
        details={"rule": rule.code, "version": rule.version, "firing": firing.pk},
        assignee_id=assignee_id,
        unassigned=action.assignee == "none" or assignee_id is None,
        due_in=timedelta(hours=action.due_hours) if action.due_hours else None,
    )
    firing.alert = alert
    return {"type": "alert", "alert": alert.pk, "severity": action.severity}


def fire(matches: list[Match], *, trigger: str) -> int:
    """Record and act on ``matches``, except where the same rule fired for the patient
    within its quiet period; returns how many fired."""
    if not matches:
        return 0
    now = timezone.now()
    longest = max(m.rule.cooldown for m in matches)
    last: dict[tuple[int | None, int], datetime] = {}
    for rule_id, patient_id, at in RuleFiring.objects.filter(
        rule_id__in={m.rule.pk for m in matches},
        patient_id__in={m.patient_id for m in matches},
        fired_at__gte=now - longest,
    ).values_list("rule_id", "patient_id", "fired_at"):
        last[(rule_id, patient_id)] = max(last.get((rule_id, patient_id), at), at)

    def quiet(match: Match) -> bool:
        before = last.get((match.rule.pk, match.patient_id))
        return before is not None and now - before < match.rule.cooldown

    due = [m for m in matches if not quiet(m)]
    patients = Patient.objects.in_bulk({m.patient_id for m in due})
    tags = _Tags()
    fired = 0
    for match in due:
        key = (match.rule.pk, match.patient_id)
        if last.get(key) == now:  # fired already in this batch
            continue
        assert match.rule.pk is not None  # only saved rules fire
        firing = RuleFiring.objects.create(
            rule_id=match.rule.pk,
            version=match.rule.version,
            patient_id=match.patient_id,
            fired_at=now,
            trigger=trigger,
            reasons=match.reasons,
            seen=match.seen,
        )
        patient = patients[match.patient_id]
        firing.actions = [_apply(a, patient, firing, match, tags) for a in match.rule.actions]
        firing.save(update_fields=["actions", "alert"])
        last[key] = now
        fired += 1
    return fired
