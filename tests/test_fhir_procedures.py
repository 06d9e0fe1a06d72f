"""FHIR Procedure at /fhir/R4/Procedure, as Condition is served: read, create, update,
search (patient, code, date, _id, _count, paging), in transaction and batch Bundles; an
operation sets 术后 (DOMAIN F5); a procedure not done, without a code or a date, or dated
in the future is refused 422."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.procedure import Procedure as FhirProcedure

from careloop.clinical.models import Encounter, Procedure
from careloop.patients.models import Patient
from careloop.rules.pack import load_pack
from tests.factories import PatientFactory
from tests.test_fhir import Fhir, fhir, patient_resource  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
ICD9 = "http://hl7.org/fhir/sid/icd-9-cm"


def _when(days_ago: float) -> str:
    return timezone.localtime(timezone.now() - timedelta(days=days_ago)).isoformat(
        timespec="seconds"
    )


def procedure(patient_ref: str, code: str = "36.0601", **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "subject": {"reference": patient_ref},
        "code": {"coding": [{"system": ICD9, "code": code, "display": "冠状动脉支架置入术"}]},
        "performedDateTime": _when(2),
        **more,
    }


def _tags(patient: Any) -> set[str]:
    return set(patient.tags.values_list("tag__name", flat=True))


def test_a_procedure_is_created_read_updated_and_an_operation_tags(
    fhir: Fhir,  # noqa: F811
    carol: Any,
) -> None:
    load_pack()
    patient = PatientFactory(organisation=carol.organisation)
    status, made, _ = fhir.call("POST", "/Procedure", procedure(f"Patient/{patient.pk}"))
    assert status == 201, made
    FhirProcedure.model_validate(made)
    stored = Procedure.objects.get(pk=int(made["id"]))
    assert (stored.code, stored.code_system, stored.is_surgery) == ("36.0601", "ICD-9-CM-3", True)
    assert (stored.source, stored.organisation_id) == ("fhir", carol.organisation_id)
    assert "术后" in _tags(patient)
    status, read, _ = fhir.call("GET", f"/Procedure/{made['id']}")
    assert status == 200 and read["code"]["coding"][0] == {
        "system": ICD9,
        "code": "36.0601",
        "display": "冠状动脉支架置入术",
    }
    assert read["category"]["coding"][0]["code"] == "387713003"  # a surgical procedure
    changed = dict(read, note=[{"text": "术后恢复好"}])
    status, body, _ = fhir.call("PUT", f"/Procedure/{made['id']}", changed)
    assert status == 200, body
    stored.refresh_from_db()
    assert stored.note == "术后恢复好"


def test_procedures_are_searched_by_patient_code_date_and_id_with_paging(
    fhir: Fhir,  # noqa: F811
    carol: Any,
) -> None:
    patient = PatientFactory(organisation=carol.organisation)
    other = PatientFactory(organisation=carol.organisation)
    ids = []
    for days, code in ((40, "87.44"), (10, "81.5400"), (2, "36.0601")):
        resource = procedure(f"Patient/{patient.pk}", code, performedDateTime=_when(days))
        ids.append(fhir.call("POST", "/Procedure", resource)[1]["id"])
    fhir.call("POST", "/Procedure", procedure(f"Patient/{other.pk}"))

    def found(query: str) -> list[str]:
        status, body, _ = fhir.call("GET", f"/Procedure?{query}")
        assert status == 200, body
        Bundle.model_validate(body)
        return sorted(e["resource"]["id"] for e in body.get("entry", []))

    assert found(f"patient={patient.pk}") == sorted(ids)
    assert found(f"patient={patient.pk}&code={ICD9}|36.0601") == [ids[2]]
    assert found(f"subject=Patient/{patient.pk}&code=87.44,81.5400") == sorted(ids[:2])
    since = timezone.localdate() - timedelta(days=15)
    assert found(f"patient={patient.pk}&date=ge{since.isoformat()}") == sorted(ids[1:])
    assert found(f"_id={ids[0]}") == [ids[0]]
    status, page, _ = fhir.call("GET", f"/Procedure?patient={patient.pk}&_count=2")
    assert page["total"] == 3 and len(page["entry"]) == 2
    following = next(link["url"] for link in page["link"] if link["relation"] == "next")
    status, rest, _ = fhir.call("GET", following.split("/fhir/R4", 1)[1])
    assert status == 200 and len(rest["entry"]) == 1


def test_a_procedure_that_cannot_be_kept_is_refused(fhir: Fhir, carol: Any) -> None:  # noqa: F811
    patient = PatientFactory(organisation=carol.organisation)
    ref = f"Patient/{patient.pk}"
    no_date = procedure(ref)
    del no_date["performedDateTime"]
    uncoded = dict(procedure(ref), code={"text": "支架"})
    refused = {
        "Procedure.code.coding": uncoded,
        "Procedure.code": procedure(ref, "ABC"),
        "Procedure.performed[x]": no_date,
        "Procedure.performedDateTime": procedure(ref, performedDateTime=_when(-2)),
        "Procedure.status": procedure(ref, status="not-done"),
    }
    for where, resource in refused.items():
        status, body, _ = fhir.call("POST", "/Procedure", resource)
        assert status == 422, (where, body)
        assert body["issue"][0]["expression"] == [where], body
    assert fhir.call("POST", "/Procedure", {"resourceType": "Procedure"})[0] == 400
    assert not Procedure.objects.exists()


def test_a_procedure_in_a_transaction_links_to_its_patient_and_stay(
    fhir: Fhir,  # noqa: F811
) -> None:
    load_pack()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:x1",
                "request": {"method": "POST", "url": "Procedure"},
                "resource": procedure(
                    "urn:uuid:p1", "81.5400", encounter={"reference": "urn:uuid:e1"}
                ),
            },
            {
                "fullUrl": "urn:uuid:p1",
                "request": {"method": "POST", "url": "Patient"},
                "resource": patient_resource(),
            },
            {
                "fullUrl": "urn:uuid:e1",
                "request": {"method": "POST", "url": "Encounter"},
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "IMP"},
                    "subject": {"reference": "urn:uuid:p1"},
                    "period": {"start": _when(5), "end": _when(1)},
                },
            },
        ],
    }
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 200, body
    patient = Patient.objects.get()
    knee = Procedure.objects.get()
    assert knee.patient == patient and knee.encounter == Encounter.objects.get()
    assert "术后" in _tags(patient)
    bundle["type"] = "batch"
    bundle["entry"] = [bundle["entry"][0]]
    bundle["entry"][0]["resource"]["subject"] = {"reference": f"Patient/{patient.pk}"}
    del bundle["entry"][0]["resource"]["encounter"]
    status, body, _ = fhir.call("POST", "", bundle)
    assert body["entry"][0]["response"]["status"] == "201 Created", body
    assert Procedure.objects.count() == 2
