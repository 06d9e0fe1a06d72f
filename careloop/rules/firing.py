"""Firing matched rules: a ``RuleFiring`` for each (what the rule saw, why, what it did), then
its actions. Runs inside the caller's transaction, so firings and their effects are stored
together or not at all. A batch of matches costs a handful of statements: the firings, tag
rows and tag history are inserted together; tiers updated per value; only alerts, which are
few and each owned by someone, are created one by one."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from careloop.audit.services import record
from careloop.bulk import create_instances
from careloop.followup.models import Alert
from careloop.followup.services import new_alert
from careloop.interop.webhook_events import alerts_created
from careloop.patients.access import staff_sees
from careloop.patients.models import Patient, PatientTag, Tag, TagEvent
from careloop.rules.actions import (
    AddTag,
    CreateTask,
    Enrol,
    Notify,
    RaiseAlert,
    RemoveTag,
    SetTier,
)
from careloop.rules.engine import Match
from careloop.rules.models import RuleFiring


def _due(matches: list[Match], now: datetime) -> list[Match]:
    """The matches outside their rule's quiet period for the patient (one per pair). A match
    about one reading (``Match.about``: a night reading entered late) is due only when that
    reading was taken a quiet period or more after the reading the rule last fired about
    (its time as ``seen["about"]``; else the firing's own time): a reading the rule has
    fired about, or one taken in the quiet period after it, does not fire again with every
    later reading, and each night's own low still does, however late it is entered."""
    since = now - max(m.rule.cooldown for m in matches)
    since = min([since, *(m.about - m.rule.cooldown for m in matches if m.about is not None)])
    fired: dict[tuple[int | None, int], datetime] = {}
    about: dict[tuple[int | None, int], datetime] = {}
    for rule_id, patient_id, at, seen_about in RuleFiring.objects.filter(
        rule_id__in={m.rule.pk for m in matches},
        patient_id__in={m.patient_id for m in matches},
        fired_at__gte=since,
    ).values_list("rule_id", "patient_id", "fired_at", "seen__about"):
        stored: tuple[int | None, int] = (rule_id, patient_id)
        fired[stored] = max(fired.get(stored, at), at)
        reading = _moment(seen_about) or at
        about[stored] = max(about.get(stored, reading), reading)
    due = []
    for match in matches:
        key: tuple[int | None, int] = (match.rule.pk, match.patient_id)
        before = fired.get(key)
        quiet = before is not None and now - before < match.rule.cooldown
        covered = (
            match.about is not None
            and key in about
            and match.about < about[key] + match.rule.cooldown
        )
        if not quiet and not covered:
            due.append(match)
            fired[key] = now  # once per (rule, patient) in a batch
            if match.about is not None:
                about[key] = max(about.get(key, match.about), match.about)
    return due


def _moment(value: Any) -> datetime | None:
    """A firing's ``seen["about"]`` (ISO 8601), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# What actions need of a patient (never the encrypted identifiers: nothing to decrypt).
PATIENT_FIELDS = [
    "id",
    "organisation_id",
    "responsible_doctor_id",
    "health_manager_id",
    "risk_tier",
    "value_tier",
]


class _Plan:
    """What a batch of firings will write, worked out before writing any of it."""

    def __init__(self, due: list[Match]) -> None:
        names = {a.tag for m in due for a in m.rule.actions if isinstance(a, AddTag | RemoveTag)}
        self.tags = {name: Tag.objects.get_or_create(name=name)[0] for name in sorted(names)}
        self.has: set[tuple[int, int]] = set()
        if self.tags:
            self.has = set(
                PatientTag.objects.filter(
                    patient_id__in={m.patient_id for m in due},
                    tag_id__in=[t.pk for t in self.tags.values()],
                ).values_list("patient_id", "tag_id")
            )
        self.added: list[tuple[int, PatientTag]] = []  # (firing index, row)
        self.removed: list[tuple[int, int, int]] = []  # (firing index, patient, tag)
        self.tiers: dict[tuple[str, str], list[tuple[Patient, str, Match]]] = defaultdict(list)
        self.alerts: list[tuple[int, RaiseAlert, Patient, Match]] = []  # (firing index, …)
        self.enrolments: list[tuple[Enrol, int, Match]] = []  # (action, patient id, match)
        self.tasks: list[tuple[CreateTask, int, Match]] = []  # (action, patient id, match)
        self.notices: list[tuple[Notify, Patient, int, Match]] = []
        self.seen: dict[Any, Any] = {}  # who may open whom, asked once per user (staff_sees)

    def action(self, index: int, action: Any, patient: Patient, match: Match) -> dict[str, Any]:
        """Plan one action of firing ``index``; returns what the firing records of it."""
        if isinstance(action, AddTag | RemoveTag):
            tag = self.tags[action.tag]
            key = (patient.pk, tag.pk)
            adding = isinstance(action, AddTag)
            changed = (key not in self.has) if adding else (key in self.has)
            if changed and adding:
                self.has.add(key)
                row = PatientTag(patient_id=patient.pk, tag=tag, rule_id=match.rule.pk)
                self.added.append((index, row))
            elif changed:
                self.has.discard(key)
                self.removed.append((index, patient.pk, tag.pk))
            return {"type": "tag" if adding else "untag", "tag": action.tag, "changed": changed}
        if isinstance(action, SetTier):
            before = getattr(patient, action.field)
            if before != action.value:
                setattr(patient, action.field, action.value)
                self.tiers[(action.field, action.value)].append((patient, before, match))
            return {
                "type": action.field,
                "value": action.value,
                "before": before,
                "changed": before != action.value,
            }
        if isinstance(action, Enrol):
            self.enrolments.append((action, patient.pk, match))
            return {"type": "enrol", "pathway": action.pathway}
        if isinstance(action, CreateTask):
            self.tasks.append((action, patient.pk, match))
            return {"type": "task", "title": action.title}
        if isinstance(action, Notify):
            user_id = getattr(patient, f"{action.to}_id")
            if not staff_sees(user_id, patient, self.seen):  # no notice of one they cannot open
                user_id = None
            if user_id is not None:
                self.notices.append((action, patient, user_id, match))
            return {"type": "notify", "to": action.to, "sent": user_id is not None}
        assert isinstance(action, RaiseAlert)
        self.alerts.append((index, action, patient, match))
        return {"type": "alert", "severity": action.severity}


# The audit summary is stored in Chinese, as the log's other summaries written by rules.
TIER_WORDS = {"high": "高", "medium": "中", "low": "低", "": "未分层"}


def _write_tiers(plan: _Plan) -> None:
    if not plan.tiers:
        return
    for (field, value), changes in plan.tiers.items():
        Patient.objects.filter(pk__in=[p.pk for p, _, _ in changes]).update(**{field: value})
        for patient, before, match in changes:
            kind = "风险分层" if field == "risk_tier" else "价值分层"
            shown = TIER_WORDS.get(value, value)
            record(
                None,
                "update",
                "patient",
                patient.pk,
                patient_id=patient.pk,
                actor_label=f"rule:{match.rule.code}"[:150],
                summary=f"{kind}设为 {shown}（规则 {match.rule.code} v{match.rule.version}）",
                changes={field: [before, value]},
            )


def _enrol(plan: _Plan) -> None:
    """Pathway enrolments the rules asked for, once the tiers they may plan by are written."""
    if not plan.enrolments:
        return
    from careloop.followup.models import Pathway
    from careloop.followup.planning import enrol

    pathways = Pathway.objects.in_bulk(
        {a.pathway for a, _, _ in plan.enrolments}, field_name="code"
    )
    patients = Patient.objects.select_related("organisation").in_bulk(
        {pk for _, pk, _ in plan.enrolments}
    )
    for action, patient_id, match in plan.enrolments:
        pathway = pathways.get(action.pathway)
        patient = patients[patient_id]
        # A pathway set for an organisation is for it and those below it, as the triggers
        # and the patient page apply it: a rule of every organisation does not put another
        # organisation's patients on it.
        if pathway is not None and (
            pathway.organisation_id is None
            or pathway.organisation_id in patient.organisation.lineage
        ):
            enrol(
                patient,
                pathway,
                trigger="rule",
                reason="；".join(match.reasons)[:250] + f"（规则 {match.rule.code}）",
            )


def _alert(action: RaiseAlert, patient: Patient, match: Match, memo: dict[Any, Any]) -> Alert:
    rule = match.rule
    assignee_id = (
        patient.health_manager_id
        if action.assignee == "health_manager"
        else patient.responsible_doctor_id
    )
    return new_alert(
        patient,
        kind=Alert.Kind.RULE,
        severity=action.severity,
        title=action.title,
        reason="；".join(match.reasons) + f"。（规则：{rule.name}，v{rule.version}）",
        details={"rule": rule.code, "version": rule.version},  # the firing links to it
        assignee_id=assignee_id,
        unassigned=action.assignee == "none" or assignee_id is None,
        due_in=timedelta(hours=action.due_hours) if action.due_hours else None,
        memo=memo,
    )


def _create_tasks(plan: _Plan, now: datetime) -> None:
    """Follow-up tasks the rules asked for (outside any plan), unless the patient already
    has the same one open."""
    if not plan.tasks:
        return
    from careloop.followup.models import Task
    from careloop.followup.planning import assignee_for, choose_channel

    ids = {pk for _, pk, _ in plan.tasks}
    patients = Patient.objects.in_bulk(ids)
    open_already = set(
        Task.objects.filter(
            patient_id__in=ids, plan__isnull=True, status=Task.Status.OPEN
        ).values_list("patient_id", "title")
    )
    rows = []
    for action, patient_id, match in plan.tasks:
        if (patient_id, action.title) in open_already:
            continue
        open_already.add((patient_id, action.title))
        patient = patients[patient_id]
        channel, _index = choose_channel(patient, [action.channel])
        rows.append(
            Task(
                patient_id=patient_id,
                organisation_id=patient.organisation_id,
                team_id=patient.care_team_id,
                node=f"rule:{match.rule.code}"[:40],
                title=action.title,
                purpose=action.purpose,
                channel=channel or action.channel,
                channels=[action.channel],
                assignee_role=action.role,
                assignee_id=assignee_for(patient, action.role),
                due_at=now,
                deadline=now + timedelta(hours=action.due_hours),
            )
        )
    Task.objects.bulk_create(rows)


def fire(matches: list[Match], *, trigger: str) -> int:
    """Record and act on ``matches``, except where the same rule fired for the patient
    within its quiet period; returns how many fired."""
    if not matches:
        return 0
    now = timezone.now()
    due = _due(matches, now)
    if not due:
        return 0
    patients = Patient.objects.only(*PATIENT_FIELDS).in_bulk({m.patient_id for m in due})
    plan = _Plan(due)
    actions = [
        [plan.action(index, a, patients[m.patient_id], m) for a in m.rule.actions]
        for index, m in enumerate(due)
    ]
    # Alerts first, so each firing is inserted already pointing at its alert.
    memo: dict[Any, Any] = {}  # who may open whom, asked once per owner for the batch
    alerts = {index: _alert(action, patient, m, memo) for index, action, patient, m in plan.alerts}
    create_instances(list(alerts.values()))
    alerts_created(a.pk for a in alerts.values())
    firings = []
    for index, match in enumerate(due):
        assert match.rule.pk is not None  # only saved rules fire
        alert = alerts.get(index)
        if alert is not None:
            next(a for a in actions[index] if a["type"] == "alert")["alert"] = alert.pk
        firings.append(
            RuleFiring(
                rule_id=match.rule.pk,
                version=match.rule.version,
                patient_id=match.patient_id,
                fired_at=now,
                trigger=trigger,
                reasons=match.reasons,
                seen=match.seen,
                actions=actions[index],
                alert=alert,
            )
        )
    create_instances(firings)  # ids set (RETURNING on SQLite and PostgreSQL)
    PatientTag.objects.bulk_create([row for _, row in plan.added])
    for _, patient_id, tag_id in plan.removed:
        PatientTag.objects.filter(patient_id=patient_id, tag_id=tag_id).delete()
    TagEvent.objects.bulk_create(
        [
            TagEvent(
                patient_id=row.patient_id,
                tag_id=row.tag_id,
                action=TagEvent.Action.ADDED,
                at=now,
                firing=firings[index],
            )
            for index, row in plan.added
        ]
        + [
            TagEvent(
                patient_id=patient_id,
                tag_id=tag_id,
                action=TagEvent.Action.REMOVED,
                at=now,
                firing=firings[index],
            )
            for index, patient_id, tag_id in plan.removed
        ]
    )
    _write_tiers(plan)
    if plan.tiers:
        from careloop.followup.planning import replan_tiers

        replan_tiers({p.pk for changes in plan.tiers.values() for p, _, _ in changes})
    _enrol(plan)
    _create_tasks(plan, now)
    _notify(plan)
    return len(firings)


def _notify(plan: _Plan) -> None:
    """Staff notifications of the "notify" actions (delivered by the dispatch job)."""
    if not plan.notices:
        return
    from careloop.accounts.models import User
    from careloop.outreach.staff_notify import notify

    users = User.objects.in_bulk({user_id for _, _, user_id, _ in plan.notices})
    for action, patient, user_id, match in plan.notices:
        if user_id in users and users[user_id].is_active:
            notify(
                users[user_id],
                action.title,
                f"规则“{match.rule.name}”：{'；'.join(match.reasons)}",
                reverse("patients:detail", args=[patient.pk]),
            )
