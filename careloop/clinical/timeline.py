"""Encounters, diagnoses and procedures on the patient timeline."""

from __future__ import annotations

from collections.abc import Iterable

from careloop.clinical.models import Condition, Encounter, Procedure
from careloop.patients.models import Patient
from careloop.patients.timeline import TimelineEntry, at_day, timeline_source


@timeline_source
def clinical_entries(patient: Patient) -> Iterable[TimelineEntry]:
    for encounter in Encounter.objects.filter(patient=patient):
        detail = " · ".join(p for p in (encounter.department, encounter.reason) if p)
        yield TimelineEntry(
            encounter.started_at, "encounter", "hospital", encounter.get_kind_display(), detail
        )
    for condition in Condition.objects.filter(patient=patient):
        when = at_day(condition.onset_date) if condition.onset_date else condition.recorded_at
        yield TimelineEntry(
            when,
            "diagnosis",
            "clipboard2-pulse",
            f"{condition.icd10_code} {condition.name}",
            condition.get_clinical_status_display(),
        )
    for procedure in Procedure.objects.filter(patient=patient):
        yield TimelineEntry(
            procedure.performed_at,
            "procedure",
            "scissors",
            f"{procedure.code} {procedure.name}".strip(),
            procedure.get_status_display(),
        )
