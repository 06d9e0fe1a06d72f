"""Storing results: a report and its graded observations, critical values alerted at once.

One function for every interface (HL7, FHIR, Excel, staff entry). Non-critical
observations go in with one plain INSERT (see careloop/bulk.py); critical ones through the
ORM, because their alert points at them.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from careloop.bulk import insert_returning_ids, insert_rows
from careloop.clinical import catalogue as catalogue_module
from careloop.clinical.assessment import Assessment, ResultInput, assess
from careloop.clinical.models import DiagnosticReport, Observation
from careloop.clinical.settle import settle
from careloop.followup.services import critical_value_alert

OBSERVATION_FIELDS = [
    "patient_id",
    "report_id",
    "encounter_id",
    "code_system",
    "code",
    "local_system",
    "local_code",
    "name",
    "value_type",
    "value",
    "comparator",
    "value_text",
    "unit",
    "value_normalised",
    "unit_normalised",
    "ref_low",
    "ref_low_inclusive",
    "ref_high",
    "ref_high_inclusive",
    "ref_text",
    "interpretation",
    "critical",
    "sender_flags",
    "status",
    "effective_at",
    "note",
    "source",
    "source_message_id",
    "created_at",
]

observation_row = operator.itemgetter(*OBSERVATION_FIELDS)  # a field dict → an insert_rows row


@dataclass
class ReportInput:
    name: str
    effective_at: datetime
    code: str = ""
    code_system: str = ""
    status: str = "final"
    conclusion: str = ""
    filler_order_number: str = ""
    issued_at: datetime | None = None


@dataclass
class Stored:
    report: DiagnosticReport | None
    observations: int = 0
    abnormal: int = 0
    critical: list[Observation] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    created: list[Observation] = field(default_factory=list)  # with return_observations


def assess_for(
    patient: Any,
    results: list[ResultInput],
    *,
    organisation_path: str,
    catalogue: catalogue_module.Catalogue | None = None,
) -> list[Assessment]:
    catalogue = catalogue or catalogue_module.current()
    assessments = []
    for result in results:
        day = timezone.localtime(result.observed_at).date()
        assessments.append(
            assess(
                result,
                sex=patient.sex,
                age=patient.age_on(day),
                organisation_path=organisation_path,
                catalogue=catalogue,
                days_old=(day - patient.birth_date).days,
            )
        )
    return assessments


def do_record_results(
    patient: Any,
    report: ReportInput | None,
    results: list[ResultInput],
    *,
    source: str,
    source_label: str,
    message_id: int | None = None,
    encounter_id: int | None = None,
    catalogue: catalogue_module.Catalogue | None = None,
    return_observations: bool = False,
    assessments: list[Assessment] | None = None,
    run_rules: bool = True,
) -> Stored:
    """Store ``results`` for ``patient`` (under a report when given), graded; raise an
    alert for each critical value. Call inside a transaction. ``assessments``: the results
    already graded (``assess_for``), by a caller that graded them before taking the lock;
    ``run_rules=False``: that caller also evaluated the rules beforehand and applies them."""
    now = timezone.now()
    stored_report = None
    if report is not None:
        stored_report = DiagnosticReport.objects.create(
            patient=patient,
            organisation_id=patient.organisation_id,
            encounter_id=encounter_id,
            code=report.code[:50],
            code_system=report.code_system[:100],
            name=report.name[:200],
            status=report.status,
            effective_at=report.effective_at,
            issued_at=report.issued_at,
            conclusion=report.conclusion,
            filler_order_number=report.filler_order_number[:64],
            source=source,
            source_message_id=message_id,
            created_at=now,
        )
    if assessments is None:
        assessments = assess_for(
            patient, results, organisation_path=patient.organisation.path, catalogue=catalogue
        )
    settle((patient.pk, patient.pk, a) for a in assessments)
    outcome = Stored(stored_report)
    common = {
        "patient_id": patient.pk,
        "report_id": stored_report.pk if stored_report else None,
        "encounter_id": encounter_id,
        "source": source,
        "source_message_id": message_id,
        "created_at": now,
    }
    rows = [(common | assessment.fields, assessment) for assessment in assessments]
    outcome.observations = len(rows)
    outcome.abnormal = sum(1 for row, _ in rows if row["interpretation"] not in ("", "N"))
    values = [observation_row(row) for row, _ in rows]
    critical: list[tuple[Observation, Assessment]] = []
    if return_observations or any(a.critical for _, a in rows):
        # The new rows' ids (for the caller, or for the critical ones' alerts): one INSERT …
        # RETURNING, the rows in the order received.
        ids = insert_returning_ids(Observation, OBSERVATION_FIELDS, values)
        created = [
            Observation.from_db("default", ["id", *OBSERVATION_FIELDS], [pk, *row])
            for pk, row in zip(ids, values, strict=True)
        ]
        if return_observations:
            outcome.created = created
        critical = [(obs, a) for obs, (_, a) in zip(created, rows, strict=True) if a.critical]
    elif values:
        insert_rows(Observation, OBSERVATION_FIELDS, values)
    for observation, assessment in critical:
        outcome.critical.append(observation)
        threshold = assessment.grade.threshold if assessment.grade else ""
        outcome.alerts.append(critical_value_alert(patient, observation, threshold, source_label))
    codes = {row["code"] for row, _ in rows if row["code"]}
    if codes and run_rules:
        from careloop.rules.engine import run_for_results

        run_for_results({patient.pk: codes}, abnormal=[patient.pk] if outcome.abnormal else [])
    return outcome
