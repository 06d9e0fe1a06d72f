"""Enrolment in bulk (the nightly job): everyone a diagnosis-triggered pathway calls for
(e.g. every hypertensive resident aged 35+ into the hypertension programme) who is not on
it yet, in batches — plans inserted together, their near-future tasks computed in memory and
inserted in one statement (COPY on PostgreSQL), one audit event per batch. Idempotent: a
second run finds nobody left to enrol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from careloop.audit.services import record
from careloop.bulk import insert_rows
from careloop.clinical.models import Condition
from careloop.followup.definition import TriggerSpec
from careloop.followup.models import Pathway, Plan, Task
from careloop.followup.pathways import current_version, definition_of
from careloop.followup.planning import holidays_for, node_tasks
from careloop.patients.models import Patient
from careloop.write_gate import write_gate

BATCH = 2_000
TASK_FIELDS = [
    "patient_id",
    "organisation_id",
    "team_id",
    "plan_id",
    "node",
    "revision",
    "occurrence",
    "title",
    "purpose",
    "channel",
    "channels",
    "form",
    "assignee_role",
    "assignee_id",
    "due_at",
    "deadline",
    "status",
    "attempts",
    "outcome",
    "cancel_reason",
    "created_at",
]
# What planning reads of a patient (the rest of the row, encrypted fields included, is
# never loaded).
PATIENT_FIELDS = [
    "id",
    "organisation_id",
    "care_team_id",
    "responsible_doctor_id",
    "health_manager_id",
    "preferred_channel",
    "phone_hash",
    "quiet_hours_start",
    "quiet_hours_end",
    "risk_tier",
    "value_tier",
]


@dataclass
class BulkResult:
    enrolled: int = 0
    tasks: int = 0

    def add(self, other: BulkResult) -> None:
        self.enrolled += other.enrolled
        self.tasks += other.tasks


def enrol_batch(
    pathway: Pathway,
    wanted: list[tuple[int, str, str]],
    *,
    trigger: str,
    now: datetime,
    actor: Any = None,
) -> BulkResult:
    """Enrol each (patient id, trigger ref, reason) of ``wanted`` not already on
    ``pathway``, in one transaction."""
    version = current_version(pathway)
    definition = definition_of(version)
    holidays: dict[int, frozenset[date]] = {}
    with write_gate(), transaction.atomic():
        ids = [pk for pk, _ref, _reason in wanted]
        busy = set(
            Plan.objects.filter(
                pathway=pathway, status=Plan.Status.ACTIVE, patient_id__in=ids
            ).values_list("patient_id", flat=True)
        )
        patients = Patient.objects.filter(pk__in=ids, deceased_on__isnull=True).only(
            *PATIENT_FIELDS
        )
        by_id = {p.pk: p for p in patients}
        plans: list[Plan] = []
        tasks: list[Task] = []
        for pk, ref, reason in wanted:
            patient = by_id.get(pk)
            if patient is None or pk in busy:
                continue
            busy.add(pk)
            plan = Plan(
                patient_id=pk,
                organisation_id=patient.organisation_id,
                pathway=pathway,
                version=version,
                trigger=trigger,
                trigger_ref=ref[:100],
                reason=reason[:300],
                anchor=now,
                started_at=now,
                enrolled_by=actor if getattr(actor, "pk", None) else None,
                state={},
            )
            org = patient.organisation_id
            if org not in holidays:
                holidays[org] = holidays_for(org)
            for node in definition.nodes:
                tasks += node_tasks(plan, patient, node, now, holidays[org])
            plans.append(plan)
        Plan.objects.bulk_create(plans)
        rows = [[getattr(t, name) for name in TASK_FIELDS] for t in _with_plan_ids(tasks)]
        insert_rows(Task, TASK_FIELDS, rows)
        if plans:
            record(
                actor,
                "create",
                "plan",
                summary=f"bulk enrolment in {pathway.code}: {len(plans)} plans, {len(rows)} tasks",
                changes={"patients": [p.patient_id for p in plans][:5000]},
            )
    return BulkResult(len(plans), len(rows))


def _with_plan_ids(tasks: list[Task]) -> Iterator[Task]:
    for task in tasks:
        task.plan_id = task.plan.pk if task.plan else None
        yield task


def _diagnosis_candidates(
    pathway: Pathway, spec: TriggerSpec, now: datetime, batch: int
) -> Iterator[list[tuple[int, str, str]]]:
    """Batches of (patient, "condition:ID", reason) for everyone with an active matching
    diagnosis who is old enough, in the pathway's organisation, alive, not on the pathway
    and never enrolled for that diagnosis; ordered by patient, one row per patient."""
    prefixes = Q()
    for prefix in spec.icd10:
        prefixes |= Q(icd10_code__istartswith=prefix)
    conditions = Condition.objects.filter(prefixes, clinical_status="active").filter(
        patient__deceased_on__isnull=True
    )
    if spec.min_age is not None:
        today = timezone.localtime(now).date()
        try:
            born_by = today.replace(year=today.year - spec.min_age)
        except ValueError:  # 29 February
            born_by = today.replace(year=today.year - spec.min_age, day=28)
        conditions = conditions.filter(patient__birth_date__lte=born_by)
    if pathway.organisation is not None:
        conditions = conditions.filter(
            patient__organisation__path__startswith=pathway.organisation.path
        )
    active = Plan.objects.filter(
        patient_id=OuterRef("patient_id"), pathway=pathway, status=Plan.Status.ACTIVE
    )
    same = Plan.objects.filter(
        patient_id=OuterRef("patient_id"),
        pathway=pathway,
        trigger_ref=Concat(Value("condition:"), Cast(OuterRef("pk"), CharField())),
    )
    conditions = conditions.filter(~Exists(active), ~Exists(same))
    last = 0
    while True:
        rows = list(
            conditions.filter(patient_id__gt=last)
            .order_by("patient_id", "pk")
            .values_list("patient_id", "pk", "icd10_code", "name")[:batch]
        )
        if not rows:
            return
        seen: set[int] = set()
        out = []
        for patient_id, pk, code, name in rows:
            if patient_id not in seen:
                seen.add(patient_id)
                out.append((patient_id, f"condition:{pk}", f"诊断 {code} {name}"))
        last = rows[-1][0]
        if len(rows) == batch:  # the last patient may have more rows on the next page
            trimmed = [row for row in out if row[0] != last]
            if trimmed:
                out, last = trimmed, trimmed[-1][0]
        yield out


def enrol_eligible(
    *,
    now: datetime | None = None,
    batch: int = BATCH,
    progress: Callable[[str, BulkResult], None] | None = None,
) -> dict[str, dict[str, int]]:
    """The nightly job: for every enabled diagnosis-triggered pathway, enrol everyone
    eligible who is not on it. Returns per pathway code: enrolled, tasks."""
    now = now or timezone.now()
    results: dict[str, dict[str, int]] = {}
    for pathway in Pathway.objects.filter(enabled=True, trigger="diagnosis").select_related(
        "organisation"
    ):
        spec = definition_of(current_version(pathway)).trigger
        total = BulkResult()
        for wanted in _diagnosis_candidates(pathway, spec, now, batch):
            total.add(enrol_batch(pathway, wanted, trigger="diagnosis", now=now))
            if progress is not None:
                progress(pathway.code, total)
        results[pathway.code] = {"enrolled": total.enrolled, "tasks": total.tasks}
    return results
