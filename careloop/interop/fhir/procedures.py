"""FHIR Procedure ↔ CareLoop procedures (手术操作): read, search, create, update, as
Condition is done (``clinical.py``); an operation recorded runs the "diagnosis" rules, which
set 术后 (DOMAIN F5)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import QueryDict
from fhir.resources.R4B.procedure import Procedure as FhirProcedure

from careloop.audit.services import record
from careloop.clinical.models import Procedure, Source
from careloop.clinical.procedures import ICD9CM3, BadProcedureCode, is_surgery, procedure_code
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
    require_permission,
    token,
    unmoved,
)
from careloop.interop.fhir.outcome import FhirError, required
from careloop.interop.times import in_the_future
from careloop.patients.access import patients_for
from careloop.rules.engine import run_for_event
from careloop.rules.models import Trigger

# Statuses of a procedure not done (event-status): stored, it would count as one (术后).
NOT_DONE = {"not-done", "entered-in-error"}


def _system_out(procedure: Procedure) -> str:
    return codes.ICD9CM if procedure.code_system == ICD9CM3 else procedure.code_system


class ProcedureHandler(Handler):
    resource_type = "Procedure"
    fhir_class = FhirProcedure
    search_params = ["_id", "patient", "subject", "code", "date", "status"]

    def queryset(self, user: Any) -> QuerySet[Procedure]:
        return Procedure.objects.filter(patient__in=patients_for(user).values("pk"))

    def to_fhir(self, procedure: Procedure) -> dict[str, Any]:
        coding: dict[str, Any] = {"system": _system_out(procedure), "code": procedure.code}
        if procedure.name:
            coding["display"] = procedure.name
        resource: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": str(procedure.pk),
            "status": codes.PROCEDURE_STATUS_OUT[procedure.status],
            "code": {"coding": [coding], **({"text": procedure.name} if procedure.name else {})},
            "subject": {"reference": f"Patient/{procedure.patient_id}"},
            "performedDateTime": procedure.performed_at.isoformat(),
        }
        if procedure.is_surgery:
            resource["category"] = {
                "coding": [
                    {
                        "system": codes.SNOMED,
                        "code": codes.SURGICAL_PROCEDURE,
                        "display": "Surgical procedure",
                    }
                ]
            }
        if procedure.encounter_id:
            resource["encounter"] = {"reference": f"Encounter/{procedure.encounter_id}"}
        if procedure.note:
            resource["note"] = [{"text": procedure.note}]
        return resource

    def search(self, user: Any, params: QueryDict) -> QuerySet[Procedure]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        for value in params.getlist("code"):
            matches = []
            for system, code in map(token, either(value)):
                match = Q(code__iexact=code)
                if system in codes.ICD9CM_SYSTEMS:
                    match &= Q(code_system=ICD9CM3)
                elif system:
                    match &= Q(code_system=system)
                matches.append(match)
            queryset = queryset.filter(any_of(matches))
        for value in params.getlist("status"):
            statuses = [token(v)[1] for v in either(value)]
            queryset = queryset.filter(
                status__in=[codes.PROCEDURE_STATUS.get(s, s) for s in statuses]
            )
        if values := params.getlist("date"):
            queryset = queryset.filter(date_filter("performed_at", values))
        return queryset

    def _code(self, data: dict[str, Any]) -> dict[str, Any]:
        concept = data.get("code") or {}
        codings = [c for c in concept.get("coding", []) if c.get("code")]
        coding = next(
            (c for c in codings if c.get("system") in codes.ICD9CM_SYSTEMS),
            codings[0] if codings else None,
        )
        if coding is None:
            raise FhirError(
                422,
                f"Procedure.code needs a coding (ICD-9-CM-3: system {codes.ICD9CM})",
                code="required",
                expression=["Procedure.code.coding"],
            )
        system = coding.get("system") or ""
        try:
            code, kept_system = procedure_code(
                str(coding["code"]), ICD9CM3 if system in codes.ICD9CM_SYSTEMS else system
            )
        except BadProcedureCode as error:
            raise FhirError(
                422, f"Procedure.code: {error}", code="value", expression=["Procedure.code"]
            ) from error
        surgical = any(
            c.get("system") == codes.SNOMED and c.get("code") == codes.SURGICAL_PROCEDURE
            for c in (data.get("category") or {}).get("coding", [])
        )
        return {
            "code": code,
            "code_system": kept_system,
            "name": str(coding.get("display") or concept.get("text") or "").strip()[:100],
            "is_surgery": is_surgery(code, kept_system) or surgical,
        }

    def _fields(self, data: dict[str, Any], refs: References, patient_id: int) -> dict[str, Any]:
        status = data.get("status", "")
        if status in NOT_DONE or status not in codes.PROCEDURE_STATUS:
            raise FhirError(
                422,
                f"Procedure.status {status!r}: CareLoop keeps procedures done or being done "
                f"({', '.join(codes.PROCEDURE_STATUS)}); the procedure was not stored",
                code="not-supported",
                expression=["Procedure.status"],
            )
        given = data.get("performedDateTime")
        path = "Procedure.performedDateTime"
        if given is None and data.get("performedPeriod"):
            given, path = data["performedPeriod"].get("start"), "Procedure.performedPeriod.start"
        performed = fhir_datetime(given, path)
        if performed is None:
            raise required("Procedure.performed[x]")
        if in_the_future(performed):
            raise FhirError(
                422, f"{path} {given} is in the future", code="value", expression=[path]
            )
        encounter = encounter_of(data, refs, patient_id, "Procedure.encounter")
        return {
            **self._code(data),
            "status": codes.PROCEDURE_STATUS[status],
            "performed_at": performed,
            "encounter": encounter,
            "note": "; ".join(n.get("text", "") for n in data.get("note", []))[:200],
        }

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Procedure:
        require_permission(user, "clinical.add_procedure")
        patient = self.patient(user, data, refs, "Procedure.subject")
        fields = self._fields(data, refs, patient.pk)
        procedure = Procedure.objects.create(
            patient=patient,
            organisation_id=patient.organisation_id,
            source=Source.FHIR,
            recorded_by=user,
            **fields,
        )
        record(user, "create", "procedure", procedure.pk, patient_id=patient.pk)
        run_for_event(Trigger.DIAGNOSIS, [patient.pk])
        return procedure

    def update(
        self, user: Any, procedure: Procedure, data: dict[str, Any], refs: References
    ) -> Procedure:
        require_permission(user, "clinical.change_procedure")
        check_stored_writable(user, procedure.patient_id, "Procedure.subject")
        patient = self.patient(user, data, refs, "Procedure.subject")
        unmoved(patient, procedure.patient_id, "Procedure.subject")
        for key, value in self._fields(data, refs, procedure.patient_id).items():
            setattr(procedure, key, value)
        procedure.save()
        record(user, "update", "procedure", procedure.pk, patient_id=procedure.patient_id)
        run_for_event(Trigger.DIAGNOSIS, [procedure.patient_id])  # a date set right: 术后
        return procedure
