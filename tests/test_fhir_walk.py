"""What hospital systems send to /fhir/R4 as they usually write it (the vital-signs profile,
laboratory results, diagnoses with a verification status, a death, searches with parameters
CareLoop does not support): each either kept or refused naming the element, never accepted
and dropped."""

import urllib.request
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fhir.resources.R4B.bundle import Bundle

from careloop.accounts.tokens import do_create_token
from careloop.clinical.models import Condition, Observation
from careloop.patients.models import Patient
from tests.factories import valid_id
from tests.test_fhir import LOINC, RESIDENT, Fhir, condition_resource, patient_resource

pytestmark = pytest.mark.django_db(transaction=True)
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


@pytest.fixture
def fhir(live_server: Any, carol: Any) -> Fhir:
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


def enrol(fhir: Fhir) -> str:
    status, body, _ = fhir.call("POST", "/Patient", patient_resource())
    assert status == 201, body
    return str(body["id"])


FIRST_ID = valid_id(date(1956, 4, 1), male=True)  # patient_resource()'s


def enrol_another(fhir: Fhir) -> str:
    other = patient_resource(
        identifier=[{"system": RESIDENT, "value": valid_id(date(1960, 2, 3), male=False)}],
        gender="female",
        birthDate="1960-02-03",
        telecom=[{"system": "phone", "value": "13911113333"}],
    )
    status, body, _ = fhir.call("POST", "/Patient", other)
    assert status == 201, body
    return str(body["id"])


def vital(patient_id: str, code: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-11-23T09:30:00+08:00",
        **value,
    }


def test_a_value_of_any_kept_type_is_stored_and_an_integer_graded(fhir: Fhir) -> None:
    patient_id = enrol(fhir)
    status, body, _ = fhir.call(
        "POST", "/Observation", vital(patient_id, "8867-4", valueInteger=130)
    )
    assert status == 201, body
    assert body["valueQuantity"]["value"] == 130
    assert body["interpretation"][0]["coding"][0]["code"] == "H"  # a heart rate of 130
    stored = Observation.objects.get(pk=body["id"])
    assert stored.value == 130 and stored.value_normalised == 130

    titre = vital(
        patient_id,
        "5334-8",
        valueRatio={"numerator": {"value": 1}, "denominator": {"value": 320}},
    )
    status, body, _ = fhir.call("POST", "/Observation", titre)
    assert status == 201, body
    assert body["valueString"] == "1:320"
    for value_range, text in (
        ({"low": {"value": 5}, "high": {"value": 6, "unit": "mmol/L"}}, "5-6 mmol/L"),
        ({"low": {"value": 5, "unit": "mmol/L"}}, "≥5 mmol/L"),
    ):
        sent = vital(patient_id, "14771-0", valueRange=value_range)
        status, body, _ = fhir.call("POST", "/Observation", sent)
        assert status == 201 and body["valueString"] == text, body

    absent = vital(
        patient_id,
        "8867-4",
        dataAbsentReason={
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                    "code": "not-performed",
                }
            ]
        },
    )
    status, body, _ = fhir.call("POST", "/Observation", absent)
    assert status == 201, body
    assert body["note"] == [{"text": "dataAbsentReason: not-performed"}]

    sampled = vital(
        patient_id,
        "8867-4",
        valueSampledData={"origin": {"value": 0}, "period": 1000, "dimensions": 1, "data": "72 73"},
    )
    status, body, _ = fhir.call("POST", "/Observation", sampled)
    assert status == 422, body
    assert body["issue"][0]["expression"] == ["Observation.valueSampledData"]


def test_a_refuted_or_mistaken_diagnosis_is_refused_not_stored_as_active(fhir: Fhir) -> None:
    patient_id = enrol(fhir)
    for verification in ("refuted", "entered-in-error"):
        condition = condition_resource(
            int(patient_id),
            "E11.9",
            "2型糖尿病",
            clinicalStatus={"coding": [{"system": CLINICAL, "code": "active"}]},
            verificationStatus={"coding": [{"system": VERIFICATION, "code": verification}]},
        )
        status, body, _ = fhir.call("POST", "/Condition", condition)
        assert status == 422, body
        assert body["issue"][0]["expression"] == ["Condition.verificationStatus"]
    assert not Condition.objects.filter(patient_id=patient_id).exists()
    confirmed = condition_resource(
        int(patient_id),
        "E11.9",
        "2型糖尿病",
        verificationStatus={"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
    )
    status, body, _ = fhir.call("POST", "/Condition", confirmed)
    assert status == 201, body
    ruled_out = {
        **body,
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "refuted"}]},
    }
    status, body, _ = fhir.call("PUT", f"/Condition/{body['id']}", ruled_out)
    assert status == 422, body


def test_a_death_sent_on_the_patient_is_recorded(fhir: Fhir) -> None:
    patient_id = enrol(fhir)
    status, body, _ = fhir.call("GET", f"/Patient/{patient_id}")
    body.pop("meta")
    status, body, _ = fhir.call("PUT", f"/Patient/{patient_id}", {**body, "deceasedBoolean": True})
    assert status == 422, body
    assert body["issue"][0]["expression"] == ["Patient.deceasedBoolean"]
    status, body, _ = fhir.call("GET", f"/Patient/{patient_id}")
    body.pop("meta")
    died = {**body, "deceasedDateTime": "2026-11-20T03:00:00+08:00"}
    status, body, _ = fhir.call("PUT", f"/Patient/{patient_id}", died)
    assert status == 200, body
    assert body["deceasedDateTime"] == "2026-11-20" and body["active"] is False
    assert Patient.objects.get(pk=patient_id).deceased_on == date(2026, 11, 20)
    future = {**body, "deceasedDateTime": "2999-01-01"}
    status, body, _ = fhir.call("PUT", f"/Patient/{patient_id}", future)
    assert status == 422 and body["issue"][0]["expression"] == ["Patient.deceasedDateTime"]


def test_an_unsupported_search_parameter_is_left_out_of_the_self_link_or_refused(
    fhir: Fhir,
) -> None:
    first, second = enrol(fhir), enrol_another(fhir)
    for patient_id in (first, second):
        status, body, _ = fhir.call(
            "POST", "/Observation", vital(patient_id, "8867-4", valueInteger=70)
        )
        assert status == 201, body
    # a chain CareLoop does not support: ignored (both patients' results), and said so
    chained = f"subject:Patient.identifier={quote(RESIDENT)}%7C{FIRST_ID}"
    status, body, _ = fhir.call("GET", f"/Observation?{chained}&_sort=-date")
    assert status == 200, body
    Bundle.model_validate(body)
    assert body["total"] == 2
    [self_link] = [link["url"] for link in body["link"] if link["relation"] == "self"]
    assert "identifier" not in self_link and "_sort" not in self_link
    [warning] = [e for e in body["entry"] if e["search"]["mode"] == "outcome"]
    assert "subject:Patient.identifier" in warning["resource"]["issue"][0]["diagnostics"]
    status, body, _ = fhir.call(
        "GET", f"/Observation?{chained}", headers={"Prefer": "handling=strict"}
    )
    assert status == 400, body
    assert body["issue"][0]["expression"] == ["subject:Patient.identifier"]
    status, body, _ = fhir.call(
        "GET",
        f"/Observation?patient={first}&_summary=count&_format=json",
        headers={"Prefer": "handling=strict"},
    )
    assert status == 200 and body["total"] == 1 and not body.get("entry"), body
    status, body, _ = fhir.call("GET", "/Observation?_format=xml")
    assert status == 406, body


def test_a_conditional_update_in_a_bundle_is_refused_as_unsupported(fhir: Fhir) -> None:
    patient_id = enrol(fhir)
    resource = vital(patient_id, "8867-4", valueInteger=70)
    resource["identifier"] = [{"system": "http://lis.example.cn/obs", "value": "X1"}]
    entry = {
        "fullUrl": "urn:uuid:3c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
        "resource": resource,
        "request": {"method": "PUT", "url": "Observation?identifier=http://lis.example.cn/obs|X1"},
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 400, body
    assert body["issue"][0]["code"] == "not-supported"
    assert "conditional update" in body["issue"][0]["diagnostics"]
    status, body, _ = fhir.call("POST", "", {**bundle, "type": "batch"})
    assert status == 200, body
    assert body["entry"][0]["response"]["status"] == "400 Bad Request"
    assert not Observation.objects.filter(patient_id=patient_id).exists()


def test_of_several_names_the_official_one_is_kept(fhir: Fhir) -> None:
    names = [
        {"use": "usual", "text": "Zhou Jianhua", "family": "Zhou", "given": ["Jianhua"]},
        {"use": "official", "family": "周", "given": ["建华"]},
    ]
    status, body, _ = fhir.call("POST", "/Patient", patient_resource(name=names))
    assert status == 201, body
    assert Patient.objects.get(pk=body["id"]).name == "周建华"
    body.pop("meta")
    old = [{"use": "old", "text": "周小华"}, {"text": "周建华"}]
    status, body, _ = fhir.call("PUT", f"/Patient/{body['id']}", {**body, "name": old})
    assert status == 200, body
    assert Patient.objects.get(pk=body["id"]).name == "周建华"


def test_a_stay_ended_by_death_records_the_death(fhir: Fhir) -> None:
    patient_id, other_id = enrol(fhir), enrol_another(fhir)

    def stay(patient: str, disposition: str) -> dict[str, Any]:
        return {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/{patient}"},
            "period": {"start": "2026-11-10T09:00:00+08:00", "end": "2026-11-18T23:30:00+08:00"},
            "hospitalization": {
                "dischargeDisposition": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/discharge-disposition",
                            "code": disposition,
                        }
                    ]
                }
            },
        }

    status, body, _ = fhir.call("POST", "/Encounter", stay(other_id, "home"))
    assert status == 201, body
    assert Patient.objects.get(pk=other_id).deceased_on is None
    status, body, _ = fhir.call("POST", "/Encounter", stay(patient_id, "exp"))
    assert status == 201, body
    assert Patient.objects.get(pk=patient_id).deceased_on == date(2026, 11, 18)
    status, body, _ = fhir.call("GET", f"/Patient/{patient_id}")
    assert body["deceasedDateTime"] == "2026-11-18" and body["active"] is False


def test_a_result_and_its_report_keep_the_visit_they_name(fhir: Fhir) -> None:
    patient_id, other_id = enrol(fhir), enrol_another(fhir)
    visit = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": "2026-11-23T08:00:00+08:00", "end": "2026-11-23T09:00:00+08:00"},
    }
    result = vital(patient_id, "8867-4", valueInteger=70)
    result["encounter"] = {"reference": "urn:uuid:7d2c6a1e-0b5e-4a4f-9a43-2f0a3e7f5b10"}
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "门诊生命体征"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "encounter": {"reference": "urn:uuid:7d2c6a1e-0b5e-4a4f-9a43-2f0a3e7f5b10"},
        "effectiveDateTime": "2026-11-23T09:30:00+08:00",
        "result": [{"reference": "urn:uuid:8d2c6a1e-0b5e-4a4f-9a43-2f0a3e7f5b10"}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{n}d2c6a1e-0b5e-4a4f-9a43-2f0a3e7f5b10",
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for n, resource in ((7, visit), (8, result), (9, report))
        ],
    }
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 200, body
    encounter = body["entry"][0]["response"]["location"]
    observation = body["entry"][1]["response"]["location"]
    status, body, _ = fhir.call("GET", f"/{observation}")
    assert body["encounter"] == {"reference": encounter}
    status, body, _ = fhir.call("GET", f"/DiagnosticReport?patient={patient_id}")
    assert body["entry"][0]["resource"]["encounter"] == {"reference": encounter}
    # another patient's visit: refused naming it, nothing stored
    theirs = vital(other_id, "8867-4", valueInteger=71)
    theirs["encounter"] = {"reference": encounter}
    status, body, _ = fhir.call("POST", "/Observation", theirs)
    assert status == 422, body
    assert body["issue"][0]["expression"] == ["Observation.encounter"]
    assert not Observation.objects.filter(patient_id=other_id).exists()


def test_a_result_timed_by_an_instant_is_accepted(fhir: Fhir) -> None:
    patient_id = enrol(fhir)
    result = vital(patient_id, "8867-4", valueInteger=70)
    result["effectiveInstant"] = result.pop("effectiveDateTime")
    status, body, _ = fhir.call("POST", "/Observation", result)
    assert status == 201, body
    # the same moment (served as stored, in UTC)
    served = datetime.fromisoformat(body["effectiveDateTime"])
    assert served == datetime.fromisoformat("2026-11-23T09:30:00+08:00")


def test_head_answers_with_the_headers_of_a_read(fhir: Fhir) -> None:
    patient_id = enrol(fhir)
    request = urllib.request.Request(f"{fhir.base}/Patient/{patient_id}", method="HEAD")
    request.add_header("Authorization", f"Bearer {fhir.token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers["ETag"].startswith('W/"')
        assert response.read() == b""
    _, _, headers = fhir.call("GET", f"/Patient/{patient_id}")
    assert headers["ETag"] == response.headers["ETag"]


def test_a_visits_department_and_reason_sent_coded_only_are_kept(fhir: Fhir) -> None:
    patient_id = enrol(fhir)
    visit = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": "2026-11-23T08:00:00+08:00"},
        "serviceType": {
            "coding": [
                {
                    "system": "urn:oid:2.16.156.10011.2.3.2.1",
                    "code": "03.01",
                    "display": "心血管内科",
                }
            ]
        },
        "reasonCode": [
            {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/sid/icd-10",
                        "code": "I10",
                        "display": "原发性高血压",
                    }
                ]
            },
            {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "R51"}]},
        ],
    }
    status, body, _ = fhir.call("POST", "/Encounter", visit)
    assert status == 201, body
    assert body["serviceType"] == {"text": "心血管内科"}
    assert body["reasonCode"] == [{"text": "原发性高血压; R51"}]


def test_a_bundle_search_with_an_unsupported_parameter_is_refused(fhir: Fhir) -> None:
    first, second = enrol(fhir), enrol_another(fhir)
    for patient_id in (first, second):
        status, body, _ = fhir.call(
            "POST", "/Observation", vital(patient_id, "8867-4", valueInteger=70)
        )
        assert status == 201, body
    chained = f"Observation?subject:Patient.identifier={RESIDENT}|{FIRST_ID}"
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": chained}},
            {"request": {"method": "GET", "url": f"Observation?patient={first}"}},
        ],
    }
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 200, body
    refused, found = body["entry"]
    assert refused["response"]["status"] == "400 Bad Request"
    assert "subject:Patient.identifier" in refused["response"]["outcome"]["issue"][0]["diagnostics"]
    assert found["resource"]["total"] == 1
