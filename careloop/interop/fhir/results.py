"""FHIR Observation and DiagnosticReport ↔ CareLoop results. A created Observation is
graded, and a critical value alerted, exactly as one arriving over HL7."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from fhir.resources.R4B.diagnosticreport import DiagnosticReport as FhirReport
from fhir.resources.R4B.observation import Observation as FhirObservation

from careloop.audit.services import record
from careloop.clinical.assessment import ImpossibleValue, ResultInput, check_possible
from careloop.clinical.loinc import loinc_problem
from careloop.clinical.models import DiagnosticReport, Encounter, Observation, Source
from careloop.clinical.panels import pressures
from careloop.clinical.services import assess_for, do_record_results
from careloop.clinical.settle import settle
from careloop.clinical.units import UnitError, canonical_unit, convert
from careloop.interop.fhir import codes
from careloop.interop.fhir.base import (
    Handler,
    Prepared,
    References,
    date_filter,
    either,
    encounter_of,
    fhir_datetime,
    indexed,
    patient_filter,
    reference_id,
    require_permission,
    token,
    unmoved,
)
from careloop.interop.fhir.outcome import FhirError, not_accepted, required
from careloop.interop.times import in_the_future
from careloop.patients.access import patients_for
from careloop.rules.engine import (
    Pending,
    abnormal_patients,
    apply,
    evaluate_results,
    pending_results,
)
from careloop.rules.engine import Profile as RuleProfile


def _range_in_value_units(obs: Observation) -> tuple[str, Callable[[float], Any]]:
    """The unit of the reference range as sent, and how to write a bound in it: the range
    is kept in the catalogue's unit (converted for grading), the value as received, so a
    value in mg/dL gets its range back in mg/dL."""
    stored = obs.unit_normalised or obs.unit
    sent, kept = canonical_unit(obs.unit), canonical_unit(obs.unit_normalised)
    if sent and kept and sent != kept:
        try:
            convert(obs.code, 1.0, obs.unit_normalised, obs.unit)
        except UnitError:
            pass
        else:
            code, to, unit = obs.code, obs.unit_normalised, obs.unit
            return unit, lambda v: _number(round(convert(code, v, to, unit), 2))
    return stored, lambda v: _number(round(v, 4))


def _encounter(data: dict[str, Any], refs: References, patient: Any, path: str) -> Encounter | None:
    """The visit ``encounter`` names: one of the patient's (``base.encounter_of``)."""
    found: Encounter | None = encounter_of(data, refs, patient.pk, path)
    return found


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


# What a panel's component shares with the panel, and what is its own.
PANEL_SHARED = (
    "subject",
    "status",
    "effectiveDateTime",
    "effectiveInstant",
    "effectivePeriod",
    "issued",
)
COMPONENT_OWN = (
    "code",
    "valueQuantity",
    "valueString",
    "valueCodeableConcept",
    "valueInteger",
    "valueBoolean",
    "valueDateTime",
    "valueTime",
    "valuePeriod",
    "valueRatio",
    "valueRange",
    "valueSampledData",
    "dataAbsentReason",
    "interpretation",
    "referenceRange",
)


def _quantity_unit(quantity: dict[str, Any]) -> str:
    """The unit a Quantity is in. ``unit`` is for people (毫摩尔/升, mmol/L), its UCUM
    ``code`` for machines (mmol/L): the code is what the value is graded and converted by
    when the words are not the same unit (a glucose of 30 with unit 毫摩尔/升 was stored
    ungraded, its critical value not alerted)."""
    unit = str(quantity.get("unit") or "")
    code = str(quantity.get("code") or "")
    if not code:
        return unit
    if not unit or (
        quantity.get("system") == codes.UCUM and canonical_unit(unit) != canonical_unit(code)
    ):
        return code
    return unit


def _bound(quantity: dict[str, Any] | None) -> str:
    if not quantity or quantity.get("value") is None:
        return ""
    return f"{_number(quantity['value'])}"


def _value_as_text(data: dict[str, Any]) -> str | None:
    """A value of a type kept as text, as HL7 keeps an SN ratio or range, a date or a time
    (1:320, 5-6 mmol/L, true); None when there is none. A value CareLoop cannot keep at all
    (sampled data) is refused, not dropped."""
    if "valueBoolean" in data and data["valueBoolean"] is not None:
        return "true" if data["valueBoolean"] else "false"
    for key in ("valueDateTime", "valueTime"):
        if data.get(key):
            return str(data[key])
    if period := data.get("valuePeriod"):
        return f"{period.get('start', '')}/{period.get('end', '')}"
    if ratio := data.get("valueRatio"):
        return f"{_bound(ratio.get('numerator'))}:{_bound(ratio.get('denominator'))}"
    if value_range := data.get("valueRange"):
        low, high = value_range.get("low") or {}, value_range.get("high") or {}
        unit = low.get("unit") or high.get("unit") or low.get("code") or high.get("code") or ""
        low_text, high_text = _bound(low), _bound(high)
        text = (
            f"{low_text}-{high_text}"
            if low_text and high_text
            else f"≥{low_text}"
            if low_text
            else f"≤{high_text}"
        )
        return text + (f" {unit}" if unit else "")
    if data.get("valueSampledData"):
        raise FhirError(
            422,
            "Observation.valueSampledData is not kept by CareLoop: send valueQuantity, "
            "valueInteger, valueString or valueCodeableConcept",
            code="not-supported",
            expression=["Observation.valueSampledData"],
        )
    return None


def _component_resources(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A panel's components (a blood pressure's systolic and diastolic: LOINC 85354-9 with
    8480-6 and 8462-4) as Observations of their own, each graded and read by the rules as a
    result sent alone; they take the panel's patient, time and status."""
    shared = {key: data[key] for key in PANEL_SHARED if key in data}
    return [
        {"resourceType": "Observation", **shared}
        | {key: value for key, value in component.items() if key in COMPONENT_OWN}
        for component in data.get("component") or []
    ]


def _in_component(index: int, error: FhirError) -> FhirError:
    """``error`` of a component, named as a path within the panel."""
    path = f"Observation.component[{index}]."
    for issue in error.issues:
        if "diagnostics" in issue:
            issue["diagnostics"] = issue["diagnostics"].replace("Observation.", path)
        if "expression" in issue:
            issue["expression"] = [e.replace("Observation.", path) for e in issue["expression"]]
    return error


def _panel_text(parts: list[ResultInput]) -> str:
    """The panel's value as the patient's record shows it: ``138/88 mmHg``."""
    shown = [f"{p.comparator}{_number(p.value)}" if p.value is not None else p.text for p in parts]
    units = {p.unit for p in parts}
    unit = f" {units.pop()}" if len(units) == 1 and parts[0].unit else ""
    return ("/".join(shown) + unit)[:500]


def _split(rows: list[Observation], sizes: list[int]) -> list[list[Observation]]:
    """The stored rows back into the items that gave them (a panel: it and its components)."""
    groups, start = [], 0
    for size in sizes:
        groups.append(rows[start : start + size])
        start += size
    return groups


def _with_components(rows: list[Observation]) -> Observation:
    """The item's stored row, its components (stored after it) linked to it."""
    panel, components = rows[0], rows[1:]
    if components:
        Observation.objects.filter(pk__in=[c.pk for c in components]).update(panel=panel)
        for component in components:
            component.panel_id = panel.pk
    vars(panel)["_prefetched_objects_cache"] = {"components": components}  # read by to_fhir
    return panel


class ObservationHandler(Handler):
    resource_type = "Observation"
    fhir_class = FhirObservation
    search_params = ["_id", "patient", "subject", "code", "date", "category", "status"]

    def queryset(self, user: Any) -> QuerySet[Observation]:
        return Observation.objects.filter(
            patient__in=patients_for(user).values("pk")
        ).prefetch_related("components")

    def to_fhir(self, obs: Observation) -> dict[str, Any]:
        category = "vital-signs" if obs.code in codes.VITAL_CODES else "laboratory"
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": str(obs.pk),
            "status": codes.OBSERVATION_STATUS_OUT.get(obs.status, "final"),
            "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": category}]}],
            **self._result(obs),
            "subject": {"reference": f"Patient/{obs.patient_id}"},
            "effectiveDateTime": obs.effective_at.isoformat(),
        }
        if components := sorted(obs.components.all(), key=lambda c: c.pk):  # as sent
            resource.pop("valueString", None)  # the components' values, as text
            resource["component"] = [self._result(c) for c in components]
        if obs.panel_id:
            resource["derivedFrom"] = [{"reference": f"Observation/{obs.panel_id}"}]
        if obs.encounter_id:
            resource["encounter"] = {"reference": f"Encounter/{obs.encounter_id}"}
        if obs.note:
            resource["note"] = [{"text": obs.note}]
        return resource

    def _result(self, obs: Observation) -> dict[str, Any]:
        """What an Observation and a panel's component both have: code, value, grade."""
        coding = []
        if obs.code:
            coding.append(
                {"system": obs.code_system or codes.LOINC, "code": obs.code, "display": obs.name}
            )
        if obs.local_code:
            coding.append(
                {
                    "system": f"urn:careloop:local:{obs.local_system or 'code'}",
                    "code": obs.local_code,
                }
            )
        resource: dict[str, Any] = {
            "code": {"coding": coding, "text": obs.name} if coding else {"text": obs.name},
        }
        if obs.value is not None:
            quantity: dict[str, Any] = {"value": _number(obs.value)}
            if obs.unit:
                quantity["unit"] = obs.unit
                if ucum := codes.UCUM_CODES.get(canonical_unit(obs.unit)):
                    quantity.update(system=codes.UCUM, code=ucum)
            if obs.comparator:
                quantity["comparator"] = obs.comparator
            resource["valueQuantity"] = quantity
        elif obs.value_text:
            resource["valueString"] = obs.value_text
        if obs.interpretation:
            resource["interpretation"] = [
                {
                    "coding": [
                        {
                            "system": codes.INTERPRETATION,
                            "code": obs.interpretation,
                            "display": codes.INTERPRETATION_DISPLAY.get(obs.interpretation, ""),
                        }
                    ]
                }
            ]
        if obs.ref_low is not None or obs.ref_high is not None or obs.ref_text:
            reference: dict[str, Any] = {}
            unit, bound = _range_in_value_units(obs)
            if obs.ref_low is not None:
                reference["low"] = {"value": bound(obs.ref_low), "unit": unit}
            if obs.ref_high is not None:
                reference["high"] = {"value": bound(obs.ref_high), "unit": unit}
            if obs.ref_text:
                reference["text"] = obs.ref_text
            resource["referenceRange"] = [reference]
        return resource

    def search(self, user: Any, params: QueryDict) -> QuerySet[Observation]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        for value in params.getlist("code"):
            codes_wanted = [token(v)[1] for v in either(value)]
            queryset = queryset.filter(code__in=codes_wanted) | queryset.filter(
                local_code__in=codes_wanted
            )
        if values := params.getlist("date"):
            queryset = queryset.filter(date_filter("effective_at", values))
        for value in params.getlist("category"):  # vital-signs, or laboratory (the others)
            vital = {token(v)[1] == "vital-signs" for v in either(value)}
            if vital == {True}:
                queryset = queryset.filter(code__in=codes.VITAL_CODES)
            elif vital == {False}:
                queryset = queryset.exclude(code__in=codes.VITAL_CODES)
        for value in params.getlist("status"):  # "final,amended": either
            statuses = [token(v)[1] for v in either(value)]
            queryset = queryset.filter(
                status__in=[codes.OBSERVATION_STATUS.get(s, s) for s in statuses]
            )
        return queryset

    def result_inputs(self, data: dict[str, Any]) -> list[ResultInput]:
        """The Observation's result, then its components' (a panel's text is their values)."""
        result = self.result_input(data)
        parts = []
        for index, component in enumerate(_component_resources(data)):
            try:
                parts.append(self.result_input(component))
            except FhirError as error:
                raise _in_component(index, error) from error
        if parts and result.value is None and not result.text:
            result.text = _panel_text(parts)
        return [result, *(parts or pressures(result))]

    def result_input(self, data: dict[str, Any]) -> ResultInput:
        code = data.get("code") or {}
        loinc = next(
            (c.get("code", "") for c in code.get("coding", []) if c.get("system") == codes.LOINC),
            "",
        )
        if loinc and (problem := loinc_problem(loinc)):
            raise FhirError(
                422,
                f"Observation.code: {problem}",
                code="code-invalid",
                expression=["Observation.code.coding"],
            )
        local: dict[str, Any] = next(
            (c for c in code.get("coding", []) if c.get("system") != codes.LOINC), {}
        )
        name = (
            code.get("text")
            or next((c.get("display") for c in code.get("coding", []) if c.get("display")), "")
            or loinc
            or local.get("code")
        )
        if not (loinc or local.get("code")):
            raise FhirError(
                422,
                "Observation.code needs a coding (LOINC or local)",
                code="required",
                expression=["Observation.code.coding"],
            )
        status = codes.OBSERVATION_STATUS.get(data.get("status", ""))
        if status is None:
            raise not_accepted("Observation.status", data.get("status"))
        moment = fhir_datetime(
            data.get("effectiveDateTime")
            or data.get("effectiveInstant")
            or (data.get("effectivePeriod") or {}).get("start")
            or data.get("issued"),
            "Observation.effectiveDateTime",
        )
        if moment is None:
            raise required("Observation.effectiveDateTime")
        if in_the_future(moment):
            raise FhirError(
                422,
                f"Observation.effectiveDateTime {moment.isoformat()} is in the future",
                code="value",
                expression=["Observation.effectiveDateTime"],
            )
        result = ResultInput(
            name=str(name)[:200],
            observed_at=moment,
            loinc=loinc,
            local_code=local.get("code", "")[:50],
            local_system=local.get("system", "")[:100],
            status=status,
        )
        quantity = data.get("valueQuantity")
        if not quantity and data.get("valueInteger") is not None:  # a count, a score
            quantity = {"value": data["valueInteger"]}
        if quantity:
            if quantity.get("value") is None:
                raise required("Observation.valueQuantity.value")
            result.value = float(quantity["value"])
            try:
                check_possible(loinc, result.value, result.name)
            except ImpossibleValue as error:
                raise FhirError(
                    422, str(error), code="value", expression=["Observation.valueQuantity.value"]
                ) from error
            result.comparator = quantity.get("comparator", "")
            result.unit = _quantity_unit(quantity)
        elif "valueString" in data:
            result.text = data["valueString"]
        elif concept := data.get("valueCodeableConcept"):
            result.text = concept.get("text") or next(
                (c.get("display") or c.get("code") for c in concept.get("coding", [])), ""
            )
        elif (text := _value_as_text(data)) is not None:
            result.text = text
        if reason := data.get("dataAbsentReason"):  # no value, and why: kept as a note
            why = reason.get("text") or next(
                (c.get("display") or c.get("code") for c in reason.get("coding", [])), ""
            )
            result.notes.append(f"dataAbsentReason: {why}" if why else "dataAbsentReason")
        for reference in data.get("referenceRange", [])[:1]:
            low = (reference.get("low") or {}).get("value")
            high = (reference.get("high") or {}).get("value")
            if low is not None and high is not None:
                result.reference = f"{low}-{high}"
            elif high is not None:
                result.reference = f"≤{high}"
            elif low is not None:
                result.reference = f"≥{low}"
            else:
                result.reference = reference.get("text", "")
        flags = [
            c.get("code", "") for i in data.get("interpretation", []) for c in i.get("coding", [])
        ]
        result.flags = flags[0] if flags else ""
        result.notes = [*(n["text"] for n in data.get("note", []) if n.get("text")), *result.notes]
        return result

    def prepare_many(self, user: Any, items: list[dict[str, Any]], refs: References) -> Prepared:
        """Read and grade every Observation now; the write stores them, one batch per
        patient (a patient enrolled by the same Bundle gets its id by then)."""
        require_permission(user, "patients.change_patient")
        # patient, the items' indexes, their results (a panel's components after it), and how
        # many results each item gave
        by_patient: dict[str, tuple[Any, list[int], list[ResultInput], list[int]]] = {}
        visits: dict[int, Encounter] = {}  # the visit each item names
        for index, data in enumerate(items):
            reference = str((data.get("subject") or {}).get("reference"))
            try:
                patient = (
                    by_patient[reference][0]
                    if reference in by_patient
                    else self.patient(user, data, refs, "Observation.subject")
                )
                results = self.result_inputs(data)
                if visit := _encounter(data, refs, patient, "Observation.encounter"):
                    visits[index] = visit
            except FhirError as error:
                raise indexed(index, error) from error
            group = by_patient.setdefault(reference, (patient, [], [], []))
            group[1].append(index)
            group[2].extend(results)
            group[3].append(len(results))
        graded = {
            key: assess_for(patient, results, organisation_path=patient.organisation.path)
            for key, (patient, _, results, _) in by_patient.items()
        }
        # Risk models and rules too, before the lock; a patient enrolled by the same Bundle
        # is known by a negative id until it is saved.
        ids = {
            key: patient.pk or -(n + 1) for n, (key, (patient, *_)) in enumerate(by_patient.items())
        }
        pending = Pending()
        for key, (patient, *_) in by_patient.items():
            if patient.pk is None:
                pending.profiles[ids[key]] = RuleProfile(
                    patient.sex, patient.birth_date, patient.risk_tier, patient.organisation.path
                )
        rows = [(ids[key], a.fields) for key, items in graded.items() for a in items]
        pending, new_codes = pending_results(rows, pending)
        found = evaluate_results(new_codes, pending=pending)
        found.patients = abnormal_patients(rows)

        def write() -> list[Observation]:
            created: list[Observation | None] = [None] * len(items)
            for key, (patient, indexes, results, sizes) in by_patient.items():
                stored = do_record_results(
                    patient,
                    None,
                    results,
                    source=Source.FHIR,
                    source_label="FHIR",
                    return_observations=True,
                    assessments=graded[key],
                    run_rules=False,
                )
                for index, rows in zip(indexes, _split(stored.created, sizes), strict=True):
                    if visit := visits.get(index):  # the result and its components
                        Observation.objects.filter(pk__in=[r.pk for r in rows]).update(
                            encounter=visit
                        )
                        for row in rows:
                            row.encounter = visit
                    created[index] = _with_components(rows)
                record(
                    user,
                    "create",
                    "observation",
                    patient_id=patient.pk,
                    summary=f"{len(results)} results by FHIR",
                )
            apply(found, enrolled={ids[key]: p.pk for key, (p, *_) in by_patient.items()})
            return [obs for obs in created if obs is not None]

        return Prepared(write)

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Observation:
        observation: Observation = self.prepare_many(user, [data], refs).write()[0]
        return observation

    def update(
        self, user: Any, obs: Observation, data: dict[str, Any], refs: References
    ) -> Observation:
        """A corrected or amended result: read and graded again as a new one would be; a
        value critical now and not before raises the critical-value alert (an alert already
        raised for it stays with whoever handles it); the rules run again. A panel's
        components are corrected each the same way."""
        require_permission(user, "patients.change_patient")
        patient = self.patient(user, data, refs, "Observation.subject")
        unmoved(patient, obs.patient_id, "Observation.subject")
        result, *parts = self.result_inputs(data)
        stored = {c.code or c.local_code: c for c in obs.components.all()}
        if not stored and not data.get("component"):
            # A value sent as text (138/88) of a result stored without its pressures (before
            # they were read, or by HL7): corrected as it was stored, the text alone.
            parts = []
        for index, part in enumerate(parts):
            if (part.loinc or part.local_code) not in stored:
                raise FhirError(
                    422,
                    f"Observation.component[{index}].code: the panel has no component "
                    f"{part.loinc or part.local_code} (its components are corrected, not added)",
                    code="value",
                    expression=[f"Observation.component[{index}].code"],
                )
        from careloop.rules.engine import run_for_results

        changed = [self._correct(user, patient, stored[p.loinc or p.local_code], p) for p in parts]
        corrected = self._correct(user, patient, obs, result)
        changed.append(corrected)
        # The rules and risk models once, on the corrected values together (a panel's
        # systolic corrected beside its diastolic not yet is a pressure nobody measured).
        if codes := {o.code for o in changed if o.code}:
            abnormal = (
                [patient.pk] if any(o.interpretation not in ("", "N") for o in changed) else []
            )
            run_for_results({patient.pk: codes}, abnormal=abnormal)
        # A panel shows its components' values as they are now: one corrected alone, or some
        # of them by the panel's update (the others as they were).
        sent_alone = not data.get("component") or result.value is not None or "valueString" in data
        if obs.panel_id or (stored and not sent_alone):
            panel = Observation.objects.get(pk=obs.panel_id or obs.pk)
            shown = [
                ResultInput(
                    c.name,
                    c.effective_at,
                    value=c.value,
                    comparator=c.comparator,
                    text=c.value_text,
                    unit=c.unit,
                )
                for c in sorted(panel.components.all(), key=lambda c: c.pk)
            ]
            Observation.objects.filter(pk=panel.pk).update(value_text=_panel_text(shown))
        return corrected

    def _correct(
        self, user: Any, patient: Any, obs: Observation, result: ResultInput
    ) -> Observation:
        """``obs`` read and graded again as ``result``; the caller runs the rules."""
        from careloop.followup.services import critical_value_alert

        [assessment] = assess_for(patient, [result], organisation_path=patient.organisation.path)
        settle([(patient.pk, patient.pk, assessment)], exclude=obs.pk)
        was_critical = obs.critical
        for key, value in assessment.fields.items():
            setattr(obs, key, value)
        obs.source = Source.FHIR
        obs.save()
        if obs.critical and not was_critical:
            threshold = assessment.grade.threshold if assessment.grade else ""
            critical_value_alert(patient, obs, threshold, "FHIR")
        record(user, "update", "observation", obs.pk, patient_id=patient.pk)
        return obs


class DiagnosticReportHandler(Handler):
    resource_type = "DiagnosticReport"
    fhir_class = FhirReport
    search_params = ["_id", "patient", "subject", "code", "date", "status"]

    def queryset(self, user: Any) -> QuerySet[DiagnosticReport]:
        return DiagnosticReport.objects.filter(
            patient__in=patients_for(user).values("pk")
        ).prefetch_related("observations")

    def to_fhir(self, report: DiagnosticReport) -> dict[str, Any]:
        code: dict[str, Any] = {"text": report.name or report.code}
        if report.code:
            code["coding"] = [
                {"system": report.code_system or "urn:careloop:local:order", "code": report.code}
            ]
        resource: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": str(report.pk),
            "status": report.status,
            "code": code,
            "subject": {"reference": f"Patient/{report.patient_id}"},
            "effectiveDateTime": report.effective_at.isoformat(),
            "result": [{"reference": f"Observation/{o.pk}"} for o in report.observations.all()],
        }
        if report.issued_at:
            resource["issued"] = report.issued_at.isoformat()
        if report.conclusion:
            resource["conclusion"] = report.conclusion
        if report.filler_order_number:
            resource["identifier"] = [{"system": codes.REPORT, "value": report.filler_order_number}]
        if report.encounter_id:
            resource["encounter"] = {"reference": f"Encounter/{report.encounter_id}"}
        if not resource["result"]:
            del resource["result"]
        return resource

    def search(self, user: Any, params: QueryDict) -> QuerySet[DiagnosticReport]:
        queryset = self.queryset(user)
        if (condition := patient_filter(params)) is not None:
            queryset = queryset.filter(condition)
        for value in params.getlist("code"):
            queryset = queryset.filter(code__in=[token(v)[1] for v in either(value)])
        if values := params.getlist("date"):
            queryset = queryset.filter(date_filter("effective_at", values))
        for value in params.getlist("status"):
            queryset = queryset.filter(status__in=[token(v)[1] for v in either(value)])
        return queryset

    def _fields(self, data: dict[str, Any]) -> dict[str, Any]:
        status = data.get("status", "")
        if status not in codes.REPORT_STATUS:
            raise not_accepted("DiagnosticReport.status", status)
        moment = fhir_datetime(
            data.get("effectiveDateTime") or data.get("issued"),
            "DiagnosticReport.effectiveDateTime",
        )
        if moment is None:
            raise required("DiagnosticReport.effectiveDateTime")
        issued = fhir_datetime(data.get("issued"), "DiagnosticReport.issued")
        # As its results and an HL7 report (OBR-7): a report dated in the future is refused.
        for path, when in (("effectiveDateTime", moment), ("issued", issued)):
            if when is not None and in_the_future(when):
                raise FhirError(
                    422,
                    f"DiagnosticReport.{path} {when.isoformat()} is in the future",
                    code="value",
                    expression=[f"DiagnosticReport.{path}"],
                )
        code = data.get("code") or {}
        coding = (code.get("coding") or [{}])[0]
        return {
            "code": coding.get("code", "")[:50],
            "code_system": coding.get("system", "")[:100],
            "name": (code.get("text") or coding.get("display") or coding.get("code", ""))[:200],
            "status": status,
            "effective_at": moment,
            "issued_at": issued,
            "conclusion": data.get("conclusion", ""),
            "filler_order_number": next(
                (i.get("value", "") for i in data.get("identifier", [])), ""
            )[:64],
        }

    def _link_results(
        self, report: DiagnosticReport, data: dict[str, Any], refs: References
    ) -> None:
        """The Observations ``result`` names become the report's (the patient's only)."""
        observation_ids = []
        for index, item in enumerate(data.get("result", [])):
            path = f"DiagnosticReport.result[{index}]"
            reference = item.get("reference", "")
            if reference in refs.created:
                observation_ids.append(refs.resolve(reference, "Observation", path).pk)
            else:
                observation_ids.append(reference_id(reference, "Observation", path))
        if observation_ids:
            linked = Observation.objects.filter(pk__in=observation_ids, patient=report.patient)
            if linked.count() != len(set(observation_ids)):
                raise FhirError(
                    422,
                    "DiagnosticReport.result must refer to Observations of the same patient",
                    code="value",
                    expression=["DiagnosticReport.result"],
                )
            linked.update(report=report)
            # A panel's components (its graded pressures) are the report's results too.
            Observation.objects.filter(panel_id__in=observation_ids, patient=report.patient).update(
                report=report
            )

    def create(self, user: Any, data: dict[str, Any], refs: References) -> DiagnosticReport:
        require_permission(user, "patients.change_patient")
        patient = self.patient(user, data, refs, "DiagnosticReport.subject")
        report = DiagnosticReport.objects.create(
            patient=patient,
            organisation_id=patient.organisation_id,
            source=Source.FHIR,
            encounter=_encounter(data, refs, patient, "DiagnosticReport.encounter"),
            **self._fields(data),
        )
        self._link_results(report, data, refs)
        record(user, "create", "report", report.pk, patient_id=patient.pk)
        return report

    def update(
        self, user: Any, report: DiagnosticReport, data: dict[str, Any], refs: References
    ) -> DiagnosticReport:
        """A corrected or final report: its fields replaced; ``result``, when given, names
        its Observations (those no longer named leave it)."""
        require_permission(user, "patients.change_patient")
        patient = self.patient(user, data, refs, "DiagnosticReport.subject")
        unmoved(patient, report.patient_id, "DiagnosticReport.subject")
        for key, value in self._fields(data).items():
            setattr(report, key, value)
        if "encounter" in data:
            report.encounter = _encounter(data, refs, patient, "DiagnosticReport.encounter")
        report.save()
        if "result" in data:
            Observation.objects.filter(report=report).update(report=None)
            self._link_results(report, data, refs)
        record(user, "update", "report", report.pk, patient_id=patient.pk)
        return report
