"""HL7 ADT^A40: the prior patient (MRG-1) merged into the surviving one (PID-3).

Everything recorded about the prior patient moves to the surviving record in the
transaction of the message: every model with a foreign key to Patient is found from the
model registry (a model added later is moved too), each row moved unless the surviving
record already has its like:

- a result (and its report) the surviving record already has — the same item at the same
  time with the same value, the same report number at the same time — is not doubled: it
  stays on the merged record with its alert, if any;
- a row a unique constraint allows once per patient (a tag, a share with an organisation,
  a channel address, a lecture seat, a health-plan version, the lifestyle record) stays
  when the surviving record has its own;
- an active plan on a pathway the surviving record is also on is stopped (``merged``), its
  open tasks cancelled, then moved with its history.

The prior record is then marked merged (``Patient.merged_into``) — kept, not deleted, for
what stayed on it and for the audit log, which keeps naming it — and both records are
audited. Identifiers move with the records (record numbers; the resident ID and passport
when the surviving record has none), so a message naming the prior patient finds the
surviving one (``interop.patients.match_patient`` follows ``merged_into`` for the rest).
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone

from careloop.audit.services import record
from careloop.patients.models import Patient

# Handled first, by hand (duplicates, active plans); then moved like the rest.
_RESULT_KEYS = ("code", "local_system", "local_code", "effective_at", "value", "value_text")
_REPORT_KEYS = ("code", "filler_order_number", "effective_at")


def merge_patients(prior: Patient, survivor: Patient, actor_label: str) -> dict[str, int]:
    """Move ``prior``'s records to ``survivor``; returns rows moved per model label (and
    ``kept:<label>`` for rows left on the merged record)."""
    from careloop.clinical.models import DiagnosticReport, Observation
    from careloop.followup.models import Alert, Plan
    from careloop.followup.planning import stop_plan

    assert prior.pk != survivor.pk
    counts: dict[str, int] = {}
    with transaction.atomic():
        # Results the survivor already has, by report and by item.
        have_reports = set(
            DiagnosticReport.objects.filter(patient=survivor)
            .exclude(filler_order_number="")
            .values_list(*_REPORT_KEYS)
        )
        twin_reports = [
            pk
            for pk, *key in DiagnosticReport.objects.filter(patient=prior).values_list(
                "pk", *_REPORT_KEYS
            )
            if tuple(key) in have_reports
        ]
        have_results = set(Observation.objects.filter(patient=survivor).values_list(*_RESULT_KEYS))
        twin_results = [
            pk
            for pk, report, *key in Observation.objects.filter(patient=prior).values_list(
                "pk", "report_id", *_RESULT_KEYS
            )
            if report in twin_reports or tuple(key) in have_results
        ]
        # A report moves only if none of its results is a twin (a report and its results
        # stay together).
        twin_reports += list(
            Observation.objects.filter(pk__in=twin_results, report__isnull=False)
            .values_list("report_id", flat=True)
            .distinct()
        )
        twin_results += list(
            Observation.objects.filter(patient=prior, report_id__in=twin_reports)
            .exclude(pk__in=twin_results)
            .values_list("pk", flat=True)
        )
        twin_results += list(  # a panel's components stay with it
            Observation.objects.filter(patient=prior, panel_id__in=twin_results)
            .exclude(pk__in=twin_results)
            .values_list("pk", flat=True)
        )
        # Active plans on a pathway the survivor is on too: stopped before they move.
        both = Plan.objects.filter(patient=survivor, status=Plan.Status.ACTIVE).values("pathway")
        for plan in Plan.objects.filter(patient=prior, status=Plan.Status.ACTIVE, pathway__in=both):
            stop_plan(plan, Plan.StopReason.MERGED, note=actor_label)
        held = {
            DiagnosticReport: models.Q(pk__in=twin_reports),
            Observation: models.Q(pk__in=twin_results),
            Alert: models.Q(observation_id__in=twin_results),
        }
        for field in _patient_fields():
            model = field.model
            rows = model._default_manager.filter(**{field.name: prior})
            if model in held:
                rows = rows.exclude(held[model])
            kept = _conflicting(rows, field, survivor)
            moved = rows.exclude(pk__in=kept).update(**{field.name: survivor})
            label = model._meta.label
            if moved:
                counts[label] = counts.get(label, 0) + moved
            stayed = len(kept) + (
                model._default_manager.filter(**{field.name: prior}).filter(held[model]).count()
                if model in held
                else 0
            )
            if stayed:
                counts[f"kept:{label}"] = stayed
        # Plans still active on the merged record (none should be): stopped.
        for plan in Plan.objects.filter(patient=prior, status=Plan.Status.ACTIVE):
            stop_plan(plan, Plan.StopReason.MERGED, note=actor_label)
        _take_identity(prior, survivor)
        now = timezone.now()
        Patient.objects.filter(pk=prior.pk).update(merged_into=survivor, merged_at=now)
        prior.merged_into, prior.merged_at = survivor, now
        summary = {k: v for k, v in sorted(counts.items())}
        record(
            None,
            "update",
            "patient",
            survivor.pk,
            patient_id=survivor.pk,
            actor_label=actor_label,
            summary=f"患者记录合并（ADT^A40）：#{prior.pk} 的记录并入本患者",
            changes={"merged_from": prior.pk, "moved": summary},
        )
        record(
            None,
            "update",
            "patient",
            prior.pk,
            patient_id=prior.pk,
            actor_label=actor_label,
            summary=f"患者记录合并（ADT^A40）：并入 #{survivor.pk}",
            changes={"merged_into": [None, survivor.pk], "moved": summary},
        )
    return counts


def _patient_fields() -> list[Any]:
    """Every foreign key (and one-to-one) to Patient, of every installed model."""
    return [
        f.remote_field
        for f in Patient._meta.get_fields(include_hidden=True)
        if f.is_relation
        and f.auto_created
        and not f.concrete
        and f.related_model is not Patient
        and (f.one_to_many or f.one_to_one)
    ]


def _conflicting(rows: Any, field: Any, survivor: Patient) -> list[int]:
    """The rows that would break a unique constraint (or one-to-one) naming the patient if
    moved to ``survivor``: the survivor has its like already. Conditional constraints (one
    active plan per pathway) are handled before."""
    model = field.model
    sets: list[list[str]] = []
    if field.one_to_one or field.unique:
        sets.append([])
    for constraint in model._meta.constraints:
        names = list(getattr(constraint, "fields", ()) or ())
        if field.name in names and getattr(constraint, "condition", None) is None:
            sets.append([n for n in names if n != field.name])
    for together in model._meta.unique_together:
        if field.name in together:
            sets.append([n for n in together if n != field.name])
    if not sets:
        return []
    kept: set[int] = set()
    theirs = model._default_manager.filter(**{field.name: survivor})
    for others in sets:
        if not others:
            if theirs.exists():
                kept.update(rows.values_list("pk", flat=True))
            continue
        have = set(theirs.values_list(*others))
        kept.update(pk for pk, *key in rows.values_list("pk", *others) if tuple(key) in have)
    return sorted(kept)


def _take_identity(prior: Patient, survivor: Patient) -> None:
    """The resident ID number and passport the survivor lacks, and its care team, doctor
    and health manager when it has none, taken from the merged record (the identifiers
    unique per patient: cleared on the merged record first)."""
    moved: dict[str, Any] = {}
    for attribute in ("id_number", "passport"):
        if getattr(prior, attribute) and not getattr(survivor, attribute):
            moved[attribute] = getattr(prior, attribute)
    if moved:
        for attribute in moved:
            setattr(prior, attribute, "")
        prior.save(update_fields=[*moved, *(f"{a}_hash" for a in moved), "updated_at"])
    for attribute in ("care_team_id", "responsible_doctor_id", "health_manager_id"):
        if getattr(survivor, attribute) is None and getattr(prior, attribute) is not None:
            moved[attribute] = getattr(prior, attribute)
    if survivor.deceased_on is None and prior.deceased_on is not None:
        moved["deceased_on"] = prior.deceased_on
    if moved:
        for attribute, value in moved.items():
            setattr(survivor, attribute, value)
        names = [a.removesuffix("_id") for a in moved]
        hashes = [f"{a}_hash" for a in ("id_number", "passport") if a in moved]
        survivor.save(update_fields=[*names, *hashes, "updated_at"])
