"""Automatic enrolment: a discharge with a matching diagnosis or a new diagnosis — from HL7,
FHIR or the patient page alike — puts the patient on the pathways whose trigger matches.
Call inside the transaction that recorded the event. Pathways triggered by an abnormal result
run in a job queued in the results' transaction (``queue_abnormal``), off the HL7 path."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from careloop.clinical.models import Condition, Encounter, Observation
from careloop.followup.alert_sources import mark_attended
from careloop.followup.definition import TriggerSpec
from careloop.followup.models import Pathway, PathwayVersion, Plan
from careloop.followup.pathways import definition_of
from careloop.followup.planning import (
    UNDONE,
    cancel_moot_reminders,
    enrol,
    may_enrol,
    stop_plan,
)
from careloop.patients.models import Patient
from careloop.system_texts import ADMISSION, VISIT


def _pathways(kind: str) -> list[tuple[Pathway, TriggerSpec]]:
    """The enabled pathways with this trigger kind, each with its current version's trigger
    (one query: this runs on every admission, discharge and diagnosis)."""
    versions = PathwayVersion.objects.filter(
        pathway__enabled=True, pathway__trigger=kind, version=F("pathway__version")
    ).select_related("pathway__organisation")
    return [(v.pathway, definition_of(v).trigger) for v in versions]


def _applies(pathway: Pathway, patient: Patient, spec: TriggerSpec, on: datetime) -> bool:
    if pathway.organisation is not None and not patient.organisation.path.startswith(
        pathway.organisation.path
    ):
        return False
    return not (
        spec.min_age is not None and patient.age_on(timezone.localtime(on).date()) < spec.min_age
    )


def _matches(code: str, prefixes: Iterable[str]) -> bool:
    code = code.upper()
    return any(code.startswith(prefix) for prefix in prefixes)


def on_discharge(patient_ids: Iterable[int], *, now: datetime | None = None) -> list[Plan]:
    """Patients discharged from a stay within the pathways' ``within_days``: each specific
    discharge pathway whose ICD-10 prefixes match a diagnosis of the stay; else the general
    one (no prefixes)."""
    now = now or timezone.now()
    pathways = _pathways("discharge")
    if not pathways:
        return []
    longest = max(spec.within_days for _, spec in pathways)
    plans: list[Plan] = []
    encounters = Encounter.objects.filter(
        patient_id__in=list(patient_ids),
        kind=Encounter.Kind.INPATIENT,
        status=Encounter.Status.FINISHED,
        ended_at__gte=now - timedelta(days=longest),
        ended_at__lte=now + timedelta(hours=1),
    ).select_related("patient__organisation")
    for encounter in encounters:
        patient = encounter.patient
        assert encounter.ended_at is not None
        codes = list(
            Condition.objects.filter(patient=patient)
            .filter(
                Q(encounter=encounter)
                | Q(encounter__isnull=True, recorded_at__gte=encounter.started_at)
            )
            .values_list("icd10_code", flat=True)
        )
        ref = f"encounter:{encounter.pk}"
        specific = [
            (p, s) for p, s in pathways if s.icd10 and any(_matches(c, s.icd10) for c in codes)
        ]
        chosen = specific or [(p, s) for p, s in pathways if not s.icd10]
        if specific:  # diagnoses that came after the discharge: the general plan gives way
            for general in Plan.objects.filter(
                patient=patient,
                trigger_ref=ref,
                status=Plan.Status.ACTIVE,
                pathway__in=[p for p, s in pathways if not s.icd10],
            ):
                stop_plan(general, Plan.StopReason.SUPERSEDED)
        for pathway, spec in chosen:
            if encounter.ended_at < now - timedelta(days=spec.within_days):
                continue
            if not _applies(pathway, patient, spec, encounter.ended_at):
                continue
            taken = Plan.objects.filter(patient=patient, trigger_ref=ref).exclude(
                stop_reason__in=UNDONE
            )
            if not specific and taken.exists():
                continue  # a specific pathway took this stay earlier
            diagnosis = next((c for c in codes if _matches(c, spec.icd10)), "")
            plan = enrol(
                patient,
                pathway,
                trigger="discharge",
                trigger_ref=ref,
                reason=f"出院（{timezone.localtime(encounter.ended_at):%Y-%m-%d}）"
                + (f"，诊断 {diagnosis}" if diagnosis else ""),
                anchor=encounter.ended_at,
                now=now,
            )
            if plan is not None:
                plans.append(plan)
    return plans


def on_diagnosis(patient_ids: Iterable[int], *, now: datetime | None = None) -> list[Plan]:
    """Patients with a diagnosis a programme pathway names (e.g. I10 → hypertension
    programme), when old enough."""
    now = now or timezone.now()
    pathways = _pathways("diagnosis")
    plans: list[Plan] = []
    if not pathways:
        return plans
    conditions = Condition.objects.filter(
        patient_id__in=list(patient_ids), clinical_status="active"
    ).select_related("patient__organisation")
    for condition in conditions:
        for pathway, spec in pathways:
            if not _matches(condition.icd10_code, spec.icd10):
                continue
            if not _applies(pathway, condition.patient, spec, now):
                continue
            plan = enrol(
                condition.patient,
                pathway,
                trigger="diagnosis",
                trigger_ref=f"condition:{condition.pk}",
                reason=f"诊断 {condition.icd10_code} {condition.name}",
                now=now,
            )
            if plan is not None:
                plans.append(plan)
    return plans


def on_visit(patient_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """A visit or admission happened: revisit reminders it makes moot are cancelled."""
    now = now or timezone.now()
    cancelled = 0
    for encounter in Encounter.objects.filter(
        patient_id__in=list(patient_ids),
        kind__in=[Encounter.Kind.OUTPATIENT, Encounter.Kind.INPATIENT, Encounter.Kind.EXAM],
        started_at__gte=now - timedelta(days=1),
        started_at__lte=now + timedelta(hours=1),
    ).exclude(status=Encounter.Status.CANCELLED):
        what = ADMISSION if encounter.kind == Encounter.Kind.INPATIENT else VISIT
        cancelled += cancel_moot_reminders(encounter.patient_id, encounter.started_at, what)
        mark_attended(encounter.patient_id, encounter.started_at)
    return cancelled


def on_clinical_event(
    trigger: str, patient_ids: Iterable[int], *, now: datetime | None = None
) -> None:
    """After an admission/discharge (``encounter``) or a diagnosis (``diagnosis``)."""
    ids = sorted(set(patient_ids))
    if trigger == "encounter":
        on_visit(ids, now=now)
        on_discharge(ids, now=now)
    elif trigger == "diagnosis":
        on_discharge(ids, now=now)  # a stay's diagnoses may arrive after the discharge
        on_diagnosis(ids, now=now)


# Whether an abnormal-result pathway is enabled: asked once a minute per process (and again
# at once when a pathway is saved here), not on every batch of results.
_ABNORMAL_ENABLED: list[Any] = [-1.0, False]
ABNORMAL_CHECK_EVERY = 60.0


def forget_abnormal_pathways(**_kwargs: Any) -> None:
    _ABNORMAL_ENABLED[0] = -1.0


def abnormal_pathways_enabled() -> bool:
    checked, enabled = _ABNORMAL_ENABLED
    if checked < 0 or time.monotonic() - checked > ABNORMAL_CHECK_EVERY:
        enabled = Pathway.objects.filter(enabled=True, trigger="abnormal").exists()
        _ABNORMAL_ENABLED[:] = [time.monotonic(), enabled]
    return bool(enabled)


def queue_abnormal(patient_ids: list[int]) -> None:
    """New abnormal results were stored for these patients (inside the storing
    transaction): when an abnormal-result pathway is enabled, a job looks at them once the
    results are committed. One job per batch of results, never one per message.

    The job is queued in the database inside the same transaction, so it is committed with
    the results or not at all (and costs no commit of its own: queued after the commit,
    it was a durable commit per batch)."""
    ids = [pk for pk in patient_ids if pk > 0]
    if not ids or not abnormal_pathways_enabled():
        return
    from careloop.followup.tasks import enrol_abnormal

    enrol_abnormal.enqueue(ids)


# How the plan's reason names a result's flag (it is stored as Chinese text).
FLAG_WORDS = {"L": "偏低", "H": "偏高", "LL": "危急低值", "HH": "危急高值", "A": "异常"}


def _describe(observations: list[Observation]) -> str:
    items = "、".join(
        f"{o.name} {o.display_value}（{FLAG_WORDS.get(o.interpretation, o.interpretation)}）"
        for o in observations[:5]
    )
    more = f"等 {len(observations)} 项" if len(observations) > 5 else ""
    return f"检查结果异常：{items}{more}"


def on_abnormal(
    patient_ids: Iterable[int], *, now: datetime | None = None, dry_run: bool = False
) -> list[Plan]:
    """Patients with results graded abnormal within a pathway's ``within_days`` (its grades,
    and its LOINC codes when it lists any; results of an exam or lab report unless it says
    ``any_result``) are enrolled, counted from the latest such result.
    The same result never enrols twice; a later abnormal result may, once the earlier plan
    has ended. ``dry_run``: nothing written; the plans that would be made, unsaved."""
    now = now or timezone.now()
    pathways = _pathways("abnormal")
    ids = sorted(set(patient_ids))
    if not pathways or not ids:
        return []
    longest = max(spec.within_days for _, spec in pathways)
    grades = {g for _, spec in pathways for g in spec.grades}
    found: dict[int, list[Observation]] = {}
    for observation in (
        Observation.objects.filter(
            patient_id__in=ids,
            interpretation__in=grades,
            effective_at__gte=now - timedelta(days=longest),
            effective_at__lte=now + timedelta(hours=1),
        )
        .exclude(status=Observation.Status.CANCELLED)
        .order_by("-effective_at", "-pk")
    ):
        found.setdefault(observation.patient_id, []).append(observation)
    plans: list[Plan] = []
    patients = Patient.objects.select_related("organisation").in_bulk(list(found))
    for patient_id, observations in found.items():
        patient = patients[patient_id]
        for pathway, spec in pathways:
            matching = [
                o
                for o in observations
                if (spec.any_result or o.report_id is not None)
                and o.interpretation in spec.grades
                and (not spec.codes or o.code in spec.codes)
                and o.effective_at >= now - timedelta(days=spec.within_days)
            ]
            if not matching or not _applies(pathway, patient, spec, matching[0].effective_at):
                continue
            if dry_run:
                ref = f"observation:{matching[0].pk}"
                if may_enrol(patient, pathway, trigger="abnormal", trigger_ref=ref):
                    plans.append(Plan(patient=patient, pathway=pathway, trigger_ref=ref))
                continue
            plan = enrol(
                patient,
                pathway,
                trigger="abnormal",
                trigger_ref=f"observation:{matching[0].pk}",
                reason=_describe(matching),
                anchor=matching[0].effective_at,
                now=now,
            )
            if plan is not None:
                plans.append(plan)
    return plans
