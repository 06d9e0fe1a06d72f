"""Enrolment in bulk (the nightly job): everyone a diagnosis-triggered pathway calls for
(e.g. every hypertensive resident aged 35+ into the hypertension programme) who is not on
it yet, in batches — plans inserted together, their near-future tasks computed in memory and
inserted in one statement (COPY on PostgreSQL), one audit event per batch. Idempotent: a
second run finds nobody left to enrol."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Mod
from django.utils import timezone

from careloop.audit.services import record
from careloop.bulk import insert_returning_ids, insert_rows
from careloop.clinical.models import Condition
from careloop.followup.definition import TriggerSpec
from careloop.followup.models import Pathway, Plan, Task
from careloop.followup.pathways import current_version, definition_of
from careloop.followup.planning import holidays_for, node_tasks, task_values
from careloop.patients import identity
from careloop.patients.models import Patient
from careloop.sql_lists import covering

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
    "questionnaire",
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
PLAN_FIELDS = [
    "patient_id",
    "organisation_id",
    "pathway_id",
    "version_id",
    "trigger",
    "trigger_ref",
    "reason",
    "anchor",
    "status",
    "stop_reason",
    "state",
    "started_at",
    "enrolled_by_id",
]


@dataclass
class Resident:
    """What planning reads of a patient (the rest of the row, encrypted fields included, is
    never loaded)."""

    pk: int
    organisation_id: int
    care_team_id: int | None
    responsible_doctor_id: int | None
    health_manager_id: int | None
    preferred_channel: str
    phone_hash: str
    phone_kind: str
    quiet_hours_start: Any
    quiet_hours_end: Any
    risk_tier: str
    value_tier: str
    birth_date: date
    digital_literacy: str
    lives_alone: bool
    age: int = 0  # on the day of the run, set once the row is read (not a column)


RESIDENT_FIELDS = [f.name if f.name != "pk" else "id" for f in fields(Resident) if f.name != "age"]


@dataclass
class DraftPlan:
    """A plan before it is inserted: what task generation reads and advances."""

    anchor: datetime
    state: dict[str, Any]


@dataclass
class BulkResult:
    enrolled: int = 0
    tasks: int = 0

    def add(self, other: BulkResult) -> None:
        self.enrolled += other.enrolled
        self.tasks += other.tasks


def _draft(plan: Any, patient: Any, node: Any, occurrence: int, due: Any) -> dict[str, Any]:
    return task_values(plan, patient, node, occurrence, due)


def enrol_batch(
    pathway: Pathway,
    wanted: list[tuple[int, str, str]],
    *,
    trigger: str,
    now: datetime,
    actor: Any = None,
    anchors: Mapping[int, datetime] | None = None,
) -> BulkResult:
    """Enrol each (patient id, trigger ref, reason) of ``wanted`` not already on
    ``pathway``, in one transaction: plans in one statement, their tasks in another.
    ``anchors``: the moment a patient's plan counts from (a discharge), when not ``now``."""
    version = current_version(pathway)
    definition = definition_of(version)
    holidays: dict[int, frozenset[date]] = {}
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    task_defaults = {
        "status": Task.Status.OPEN,
        "attempts": 0,
        "outcome": "",
        "cancel_reason": "",
        "created_at": now,
    }
    with transaction.atomic():
        ids = [pk for pk, _ref, _reason in wanted]
        busy = set(
            Plan.objects.filter(
                covering("patient_id", ids), pathway=pathway, status=Plan.Status.ACTIVE
            )
            .order_by()
            .values_list("patient_id", flat=True)
        )
        tz = timezone.get_current_timezone()
        today = timezone.localtime(now, tz).date()
        residents: dict[int, Resident] = {}
        for row in Patient.objects.filter(pk__any_of=ids, deceased_on__isnull=True).values_list(
            *RESIDENT_FIELDS
        ):
            read = residents[row[0]] = Resident(*row)
            read.age = identity.age_on(read.birth_date, today)
        plan_rows: list[list[Any]] = []
        drafts: list[tuple[int, list[dict[str, Any]]]] = []
        for pk, ref, reason in wanted:
            resident = residents.get(pk)
            if resident is None or pk in busy:
                continue
            busy.add(pk)
            plan = DraftPlan(anchor=(anchors or {}).get(pk, now), state={})
            org = resident.organisation_id
            if org not in holidays:
                holidays[org] = holidays_for(org)
            tasks: list[dict[str, Any]] = []
            for node in definition.nodes:
                tasks += node_tasks(plan, resident, node, now, holidays[org], build=_draft, tz=tz)
            plan_rows.append(
                [
                    pk,
                    org,
                    pathway.pk,
                    version.pk,
                    trigger,
                    ref[:100],
                    reason[:300],
                    plan.anchor,
                    Plan.Status.ACTIVE,
                    "",
                    plan.state,
                    now,
                    actor_id,
                ]
            )
            drafts.append((pk, tasks))
        plan_ids = dict(
            zip(
                [pk for pk, _ in drafts],
                insert_returning_ids(Plan, PLAN_FIELDS, plan_rows),
                strict=True,
            )
        )
        rows = []
        for pk, tasks in drafts:
            plan_id = plan_ids[pk]
            for values in tasks:
                values.update(task_defaults, plan_id=plan_id)
                rows.append([values[name] for name in TASK_FIELDS])
        insert_rows(Task, TASK_FIELDS, rows)
        if plan_rows:
            record(
                actor,
                "create",
                "plan",
                summary=f"bulk enrolment in {pathway.code}: "
                f"{len(plan_rows)} plans, {len(rows)} tasks",
                changes={"patients": [pk for pk, _ in drafts][:5000]},
            )
    return BulkResult(len(plan_rows), len(rows))


def _diagnosis_candidates(
    pathway: Pathway,
    spec: TriggerSpec,
    now: datetime,
    batch: int,
    shard: tuple[int, int] = (0, 1),
) -> Iterator[list[tuple[int, str, str]]]:
    """Batches of (patient, "condition:ID", reason) for everyone with an active matching
    diagnosis who is old enough, in the pathway's organisation, alive, not on the pathway,
    never enrolled for that diagnosis and never opted out of it; ordered by patient, one
    row per patient."""
    prefixes = Q()
    for prefix in spec.icd10:
        prefixes |= Q(icd10_code__istartswith=prefix)
    conditions = Condition.objects.filter(prefixes, clinical_status="active").filter(
        patient__deceased_on__isnull=True
    )
    index, shards = shard
    if shards > 1:  # this worker's share of the patients
        conditions = conditions.annotate(shard=Mod("patient_id", shards)).filter(shard=index)
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
    columns = ("patient_id", "pk", "icd10_code", "name")
    patients = Patient.objects.order_by("pk").values_list("pk", flat=True)
    window = batch * 2  # patients looked at per query (about half are candidates)
    last, waiting = 0, list[tuple[int, str, str]]()
    while True:
        # The next ``window`` patients by id: each query reads only their conditions. With
        # ORDER BY … LIMIT instead, PostgreSQL underestimated the matches (the prefix test
        # is on UPPER(code)) and scanned and sorted every remaining condition per page: the
        # job grew with the square of the residents.
        bound = next(iter(patients.filter(pk__gt=last)[window - 1 : window]), None)
        page = conditions.filter(patient_id__gt=last)
        if bound is not None:
            page = page.filter(patient_id__lte=bound)
        rows = list(page.order_by("patient_id", "pk").values_list(*columns))
        waiting += _not_yet_planned(pathway, rows) if rows else []
        while len(waiting) >= batch or (bound is None and waiting):
            yield waiting[:batch]
            waiting = waiting[batch:]
        if bound is None:
            return
        last = bound


def _not_yet_planned(
    pathway: Pathway, rows: list[tuple[int, int, str, str]]
) -> list[tuple[int, str, str]]:
    """Of candidate (patient, condition id, code, name) rows, ordered by patient: one per
    patient not on ``pathway`` now, who never opted out of it and was never enrolled for
    that diagnosis; as (patient, "condition:ID", reason).

    Looked up by the batch's patient ids rather than as NOT EXISTS in the candidates query:
    PostgreSQL planned those against the plan table's statistics from before the run (near
    empty), scanning every plan of the pathway once per batch, which grew with each batch
    (half the nightly job's time at 200,000 residents)."""
    blocked: set[int] = set()
    used: set[str] = set()
    plans = Plan.objects.filter(covering("patient_id", {r[0] for r in rows}), pathway=pathway)
    plans = plans.order_by()  # of the rows' patients and perhaps others: only theirs are read
    for patient_id, status, stop_reason, ref in plans.values_list(
        "patient_id", "status", "stop_reason", "trigger_ref"
    ):
        if status == Plan.Status.ACTIVE or stop_reason == Plan.StopReason.OPTED_OUT:
            blocked.add(patient_id)
        used.add(ref)  # a condition belongs to one patient: its id alone is enough
    out: list[tuple[int, str, str]] = []
    for patient_id, pk, code, name in rows:
        ref = f"condition:{pk}"
        if patient_id in blocked or ref in used:
            continue
        blocked.add(patient_id)  # one row per patient
        out.append((patient_id, ref, f"诊断 {code} {name}"))
    return out


def enrol_eligible(
    *,
    now: datetime | None = None,
    batch: int = BATCH,
    progress: Callable[[str, BulkResult], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, dict[str, int]]:
    """The nightly job: for every enabled diagnosis-triggered pathway, enrol everyone
    eligible who is not on it (with ``shard`` (i, n): only patients whose id is i modulo
    n, so n processes share the work). Returns per pathway code: enrolled, tasks."""
    now = now or timezone.now()
    results: dict[str, dict[str, int]] = {}
    for pathway in Pathway.objects.filter(enabled=True, trigger="diagnosis").select_related(
        "organisation"
    ):
        spec = definition_of(current_version(pathway)).trigger
        total = BulkResult()
        for wanted in _diagnosis_candidates(pathway, spec, now, batch, shard):
            total.add(_enrol_batch_again_if_raced(pathway, wanted, now))
            if progress is not None:
                progress(pathway.code, total)
        results[pathway.code] = {"enrolled": total.enrolled, "tasks": total.tasks}
    return results


def _enrol_batch_again_if_raced(
    pathway: Pathway, wanted: list[tuple[int, str, str]], now: datetime
) -> BulkResult:
    """``enrol_batch``, once more when another process (a discharge over HL7, a second
    worker) enrolled one of the batch in the pathway between its check and its insert: the
    one-active-plan index refuses the whole batch, and the second try, reading again, leaves
    that patient out. Without it the night's job failed there, the rest not enrolled."""
    for attempt in range(3):
        try:
            return enrol_batch(pathway, wanted, trigger="diagnosis", now=now)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
