"""FHIR Encounter and Condition ↔ CareLoop encounters and diagnoses."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, DateTimeField, F, Q, QuerySet, Value, When
from django.http import QueryDict
from django.utils import timezone
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.encounter import Encounter as FhirEncounter

from careloop.audit.services import record
from careloop.clinical.icd10 import UnknownDiagnosis, diagnosis_name
from careloop.clinical.models import Condition, Encounter, Source
from careloop.interop.deaths import record_death
from careloop.interop.fhir import codes
from careloop.interop.fhir.base import (
    Handler,
    References,
    any_of,
    check_stored_writable,
    date_filter,
    either,
    encounter_of,
    fhir_datetime,
    patient_filter,
    period_filter,
    require_permission,
    token,
    unmoved,
)
from careloop.interop.fhir.outcome import FhirError, not_accepted, required
from careloop.patients.access import patients_for
from careloop.rules.assessments import reassess_records
from careloop.rules.engine import run_for_event
from careloop.rules.models import Trigger


def _concept_text(concept: dict[str, Any] | None) -> str:
    """A CodeableConcept as words: its text, else its first coding's display, else its code
    (a department or a reason sent coded only is kept, not dropped)."""
    concept = concept or {}
    return str(
        concept.get("text")
        or next((c.get("display") for c in concept.get("coding", []) if c.get("display")), "")
        or next((c.get("code") for c in concept.get("coding", []) if c.get("code")), "")
    )


DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"


def _death_at_discharge(
    user: Any, patient: Any, encounter: Encounter, data: dict[str, Any]
) -> None:
    """A stay ended by death (``hospitalization.dischargeDisposition`` "exp", expired): the
    death recorded on the patient, on the day the stay ended, and their plans stopped (a
    discharge would otherwise put them on a follow-up pathway, and their family be called)."""
    disposition = (data.get("hospitalization") or {}).get("dischargeDisposition") or {}
    died = any(
        c.get("code") == "exp" and c.get("system") in (DISCHARGE_DISPOSITION, None)
        for c in disposition.get("coding", [])
    )
    if died:
        record_death(
            patient,
            timezone.localdate(encounter.ended_at or encounter.started_at),
            summary=f"death at discharge (Encounter/{encounter.pk}, FHIR)",
            actor=user,
        )


class EncounterHandler(Handler):
    resource_type = "Encounter"
    fhir_class = FhirEncounter
    search_params = ["_id", "patient", "subject", "date", "status", "class", "identifier"]

    def queryset(self, user: Any) -> QuerySet[Encounter]:
        return Encounter.objects.filter(patient__in=patients_for(user).values("pk"))

    def to_fhir(self, encounter: Encounter) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": str(encounter.pk),
            "status": codes.ENCOUNTER_STATUS_OUT[encounter.status],
            "class": {
                "system": codes.ACT_CODE,
                "code": codes.ENCOUNTER_CLASS_OUT.get(encounter.kind, "AMB"),
            },
            "type": [
                {
                    "coding": [
                        {
                            "system": codes.ENCOUNTER_KIND,
                            "code": encounter.kind,
                            "display": encounter.get_kind_display(),
                        }
                    ]
                }
            ],
            "subject": {"reference": f"Patient/{encounter.patient_id}"},
            "period": {"start": encounter.started_at.isoformat()},
        }
        if encounter.ended_at:
            resource["period"]["end"] = encounter.ended_at.isoformat()
        if encounter.visit_number:
            resource["identifier"] = [{"system": codes.VISIT, "value": encounter.visit_number}]
        if encounter.department:
            resource["serviceType"] = {"text": encounter.department}
        if encounter.reason:
            resource["reasonCode"] = [{"text": encounter.reason}]
        return resource

    def search(self, user: Any, params: QueryDict) -> QuerySet[Encounter]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        if values := params.getlist("date"):
            # A stay still going on has no end; a visit recorded without one (a registration,
            # an outpatient visit) is the moment it began.
            still_in = Q(kind=Encounter.Kind.INPATIENT, status=Encounter.Status.IN_PROGRESS)
            queryset = queryset.annotate(
                period_end=Case(
                    When(ended_at__isnull=False, then=F("ended_at")),
                    When(still_in, then=Value(None, output_field=DateTimeField())),
                    default=F("started_at"),
                )
            ).filter(period_filter("started_at", "period_end", values))
        # Each parameter repeated: all must hold; "a,b" within one: either.
        for value in params.getlist("status"):
            statuses = [token(v)[1] for v in either(value)]
            queryset = queryset.filter(
                status__in=[codes.ENCOUNTER_STATUS.get(s, s) for s in statuses]
            )
        for value in params.getlist("identifier"):
            # A visit number is kept under our system only: "value" or "<VISIT>|value"
            # matches it, any other system (or "|value", no system) nothing.
            numbers = [
                code
                for system, code in map(token, either(value))
                if system is None or system == codes.VISIT
            ]
            queryset = queryset.filter(visit_number__in=numbers)
        for value in params.getlist("class"):  # a token: "IMP" or "<system>|IMP"
            kinds = []
            for code in (token(v)[1] for v in either(value)):
                found = [kind for kind, out in codes.ENCOUNTER_CLASS_OUT.items() if out == code]
                if not found:
                    raise FhirError(
                        400,
                        f"class: {code!r} is not an encounter class CareLoop keeps "
                        f"({', '.join(sorted(set(codes.ENCOUNTER_CLASS_OUT.values())))})",
                        code="value",
                        expression=["class"],
                    )
                kinds += found
            queryset = queryset.filter(kind__in=kinds)
        return queryset

    def _fields(self, data: dict[str, Any]) -> dict[str, Any]:
        status = codes.ENCOUNTER_STATUS.get(data.get("status", ""))
        if status is None:
            raise not_accepted("Encounter.status", data.get("status"))
        kind = next(
            (
                c.get("code")
                for t in data.get("type", [])
                for c in t.get("coding", [])
                if c.get("system") == codes.ENCOUNTER_KIND
            ),
            None,
        )
        kind = kind or codes.ENCOUNTER_CLASS.get((data.get("class") or {}).get("code", ""))
        if kind not in Encounter.Kind.values:
            raise FhirError(
                422,
                "Encounter.class must be AMB, IMP, ACUTE, EMER or HH",
                code="code-invalid",
                expression=["Encounter.class"],
            )
        period = data.get("period") or {}
        started = fhir_datetime(period.get("start"), "Encounter.period.start")
        if started is None:
            raise required("Encounter.period.start")
        ended = fhir_datetime(period.get("end"), "Encounter.period.end")
        if ended and ended < started:
            raise FhirError(
                422,
                "Encounter.period.end is before its start",
                code="value",
                expression=["Encounter.period.end"],
            )
        return {
            "status": status,
            "kind": kind,
            "started_at": started,
            "ended_at": ended,
            "department": _concept_text(data.get("serviceType"))[:50],
            "reason": "; ".join(
                text for r in data.get("reasonCode", []) if (text := _concept_text(r))
            )[:200],
            "visit_number": next((i.get("value", "") for i in data.get("identifier", [])), "")[:50],
        }

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Encounter:
        require_permission(user, "clinical.add_encounter")
        patient = self.patient(user, data, refs, "Encounter.subject")
        encounter = Encounter.objects.create(
            patient=patient,
            organisation_id=patient.organisation_id,
            source=Source.FHIR,
            created_by=user,
            **self._fields(data),
        )
        record(user, "create", "encounter", encounter.pk, patient_id=patient.pk)
        _death_at_discharge(user, patient, encounter, data)
        run_for_event(Trigger.ENCOUNTER, [patient.pk])
        return encounter

    def update(
        self, user: Any, encounter: Encounter, data: dict[str, Any], refs: References
    ) -> Encounter:
        require_permission(user, "clinical.change_encounter")
        check_stored_writable(user, encounter.patient_id, "Encounter.subject")
        patient = self.patient(user, data, refs, "Encounter.subject")
        unmoved(patient, encounter.patient_id, "Encounter.subject")
        for key, value in self._fields(data).items():
            setattr(encounter, key, value)
        encounter.save()
        record(user, "update", "encounter", encounter.pk, patient_id=encounter.patient_id)
        _death_at_discharge(user, patient, encounter, data)
        run_for_event(Trigger.ENCOUNTER, [encounter.patient_id])
        return encounter


# Verification statuses of a diagnosis the patient does not have (condition-ver-status).
NOT_A_DIAGNOSIS = {"refuted", "entered-in-error"}


class ConditionHandler(Handler):
    resource_type = "Condition"
    fhir_class = FhirCondition
    search_params = ["_id", "patient", "subject", "code", "clinical-status", "onset-date"]

    def queryset(self, user: Any) -> QuerySet[Condition]:
        return Condition.objects.filter(patient__in=patients_for(user).values("pk"))

    def to_fhir(self, condition: Condition) -> dict[str, Any]:
        status = {"active": "active", "remission": "remission", "resolved": "resolved"}
        resource: dict[str, Any] = {
            "resourceType": "Condition",
            "id": str(condition.pk),
            "clinicalStatus": {
                "coding": [
                    {"system": codes.CONDITION_CLINICAL, "code": status[condition.clinical_status]}
                ]
            },
            "code": {
                "coding": [
                    {"system": codes.ICD10, "code": condition.icd10_code, "display": condition.name}
                ],
                "text": condition.name,
            },
            "subject": {"reference": f"Patient/{condition.patient_id}"},
            "recordedDate": condition.recorded_at.isoformat(),
        }
        if condition.onset_date:
            resource["onsetDateTime"] = condition.onset_date.isoformat()
        if condition.encounter_id:
            resource["encounter"] = {"reference": f"Encounter/{condition.encounter_id}"}
        if condition.note:
            resource["note"] = [{"text": condition.note}]
        return resource

    def search(self, user: Any, params: QueryDict) -> QuerySet[Condition]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        for value in params.getlist("code"):
            queryset = queryset.filter(
                any_of(Q(icd10_code__iexact=token(v)[1]) for v in either(value))
            )
        for value in params.getlist("clinical-status"):
            statuses = [token(v)[1] for v in either(value)]
            queryset = queryset.filter(
                clinical_status__in=[codes.CLINICAL_STATUS.get(s, s) for s in statuses]
            )
        if values := params.getlist("onset-date"):
            queryset = queryset.filter(date_filter("onset_date", values))
        return queryset

    def _fields(
        self, user: Any, data: dict[str, Any], refs: References, patient_id: int
    ) -> dict[str, Any]:
        coding = next(
            (
                c
                for c in (data.get("code") or {}).get("coding", [])
                if c.get("system") in codes.ICD10_SYSTEMS
            ),
            None,
        )
        if coding is None or not coding.get("code"):
            raise FhirError(
                422,
                f"Condition.code needs an ICD-10 coding (system {codes.ICD10})",
                code="required",
                expression=["Condition.code.coding"],
            )
        code = str(coding["code"]).strip().upper()
        given = coding.get("display") or (data.get("code") or {}).get("text") or ""
        try:
            name = diagnosis_name(code, str(given))
        except UnknownDiagnosis as error:
            raise FhirError(
                422,
                f"Condition.code: {error}" + ("" if error.malformed else "; send a display"),
                code="value" if error.malformed else "required",
                expression=["Condition.code"],
            ) from error
        verification = next(
            (c.get("code") for c in (data.get("verificationStatus") or {}).get("coding", [])), ""
        )
        if verification in NOT_A_DIAGNOSIS:
            # CareLoop keeps diagnoses the patient has: stored, it would count as one (a
            # ruled-out diabetes read by the risk models, the pathways and the rules).
            raise FhirError(
                422,
                f"Condition.verificationStatus {verification!r}: CareLoop keeps diagnoses the "
                "patient has, not ruled-out or mistaken ones (the diagnosis was not stored)",
                code="not-supported",
                expression=["Condition.verificationStatus"],
            )
        clinical = next(
            (c.get("code") for c in (data.get("clinicalStatus") or {}).get("coding", [])), "active"
        )
        if clinical not in codes.CLINICAL_STATUS:
            raise FhirError(
                422,
                f"Condition.clinicalStatus {clinical!r} is not known",
                code="code-invalid",
                expression=["Condition.clinicalStatus"],
            )
        onset = fhir_datetime(data.get("onsetDateTime"), "Condition.onsetDateTime")
        if onset is not None and timezone.localdate(onset) > timezone.localdate():
            raise FhirError(
                422,
                f"Condition.onsetDateTime {data['onsetDateTime']} is in the future",
                code="value",
                expression=["Condition.onsetDateTime"],
            )
        encounter = encounter_of(data, refs, patient_id, "Condition.encounter")
        return {
            "icd10_code": code,
            "name": name[:100],
            "clinical_status": codes.CLINICAL_STATUS[clinical],
            "onset_date": timezone.localdate(onset) if onset else None,
            "encounter": encounter,
            "note": "; ".join(n.get("text", "") for n in data.get("note", []))[:200],
        }

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Condition:
        require_permission(user, "clinical.add_condition")
        patient = self.patient(user, data, refs, "Condition.subject")
        fields = self._fields(user, data, refs, patient.pk)
        condition = Condition.objects.create(
            patient=patient, source=Source.FHIR, recorded_by=user, **fields
        )
        record(user, "create", "diagnosis", condition.pk, patient_id=patient.pk)
        run_for_event(Trigger.DIAGNOSIS, [patient.pk])
        return condition

    def update(
        self, user: Any, condition: Condition, data: dict[str, Any], refs: References
    ) -> Condition:
        require_permission(user, "clinical.change_condition")
        check_stored_writable(user, condition.patient_id, "Condition.subject")
        patient = self.patient(user, data, refs, "Condition.subject")
        unmoved(patient, condition.patient_id, "Condition.subject")
        for key, value in self._fields(user, data, refs, condition.patient_id).items():
            setattr(condition, key, value)
        condition.save()
        record(user, "update", "diagnosis", condition.pk, patient_id=condition.patient_id)
        reassess_records([condition.patient_id])  # diabetes, cardiovascular disease
        return condition
