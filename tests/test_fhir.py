"""FHIR R4 at /fhir/R4 over real HTTP: metadata, read, search, create, update, Bundles."""

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation as FhirObservation
from fhir.resources.R4B.patient import Patient as FhirPatient

from careloop.accounts.tokens import do_create_token
from careloop.clinical.models import Condition, DiagnosticReport, Encounter, Observation
from careloop.followup.models import Alert
from careloop.interop import patient_locks
from careloop.interop.fhir.base import patients_named
from careloop.interop.fhir.capability import capability_statement
from careloop.interop.models import InboundMessage
from careloop.patients.models import Patient
from tests.factories import valid_id

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent
RESIDENT = "urn:careloop:sid:resident-id"
LOINC = "http://loinc.org"


class Fhir:
    def __init__(self, base: str, token: str | None) -> None:
        self.base = base.rstrip("/") + "/fhir/R4"
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/fhir+json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), dict(error.headers)


@pytest.fixture
def fhir(live_server: Any, carol: Any) -> Fhir:
    """Carol, a doctor in cardiology, with a token."""
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


def patient_resource(**overrides: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": RESIDENT, "value": valid_id(date(1956, 4, 1), male=True)}],
        "name": [{"text": "周建华"}],
        "gender": "male",
        "birthDate": "1956-04-01",
        "telecom": [{"system": "phone", "value": "13811112222"}],
    }
    resource.update(overrides)
    return resource


def condition_resource(patient_id: int, code: str, display: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": {
            "coding": [
                {"system": "http://hl7.org/fhir/sid/icd-10", "code": code, "display": display}
            ]
        },
        **more,
    }


def observation(
    patient_ref: str, code: str, value: float, unit: str, when: str = "2026-11-23T23:40:00+08:00"
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit},
    }


def test_another_method_on_metadata_is_a_fhir_405_not_a_csrf_page(fhir: Fhir) -> None:
    """DELETE or POST /fhir/R4/metadata was answered by Django's CSRF check with an HTML 403."""
    for method in ("DELETE", "POST"):
        status, body, headers = fhir.call(method, "/metadata")
        assert status == 405 and body["resourceType"] == "OperationOutcome"
        assert headers["Allow"] == "GET, HEAD"


def test_metadata_is_public_and_matches_the_committed_statement(fhir: Fhir) -> None:
    status, body, headers = Fhir(fhir.base.removesuffix("/fhir/R4"), None).call("GET", "/metadata")
    assert status == 200 and headers["Content-Type"].startswith("application/fhir+json")
    CapabilityStatement.model_validate(body)
    committed = json.loads((ROOT / "docs/fhir/CapabilityStatement.json").read_text())
    assert capability_statement() == committed, "run `make openapi` and commit the result"
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert types == {
        "Patient",
        "Encounter",
        "Condition",
        "Procedure",
        "Observation",
        "DiagnosticReport",
        "Task",
        "CarePlan",
        "Flag",
        "Questionnaire",
        "QuestionnaireResponse",
    }


def test_a_token_is_required(fhir: Fhir) -> None:
    status, body, headers = Fhir(fhir.base.removesuffix("/fhir/R4"), None).call("GET", "/Patient")
    assert status == 401 and body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "login"
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_create_and_read_a_patient(fhir: Fhir) -> None:
    status, created, headers = fhir.call("POST", "/Patient", patient_resource())
    assert status == 201, created
    version = created["meta"]["versionId"]
    assert headers["Location"].endswith(f"/fhir/R4/Patient/{created['id']}/_history/{version}")
    assert headers["ETag"] == f'W/"{version}"'
    # the version the Location names is read as the current one
    status, read, _ = fhir.call("GET", headers["Location"].split("/fhir/R4")[1])
    assert status == 200 and read["id"] == created["id"]
    FhirPatient.model_validate(created)
    status, read, _ = fhir.call("GET", f"/Patient/{created['id']}")
    assert status == 200
    resident = next(i for i in read["identifier"] if i["system"] == RESIDENT)
    assert "********" in resident["value"]  # masked, as everywhere
    assert read["telecom"][0]["value"] == "138****2222"
    assert read["gender"] == "male" and read["name"][0]["text"] == "周建华"
    stored = InboundMessage.objects.get(transport="fhir")
    assert stored.status == "processed" and b"13811112222" in bytes(stored.raw)


@pytest.mark.parametrize(
    ("resource", "status", "where"),
    [
        (patient_resource(birthDate="1956-13-01"), 400, "Patient.birthDate"),
        (patient_resource(colour="blue"), 400, "Patient.colour"),
        (patient_resource(gender="other"), 422, "Patient.gender"),
        (
            patient_resource(identifier=[{"system": RESIDENT, "value": "110101195604010018"}]),
            422,
            "resident-id",
        ),
        (patient_resource(telecom=[{"system": "phone", "value": "12345"}]), 422, "telecom"),
        (
            patient_resource(
                identifier=[
                    {"system": RESIDENT, "value": valid_id(date(1956, 4, 1), male=True)},
                    {"system": "urn:oid:1.2.3", "value": "FH0001"},  # not kept: refused
                ]
            ),
            422,
            "Patient.identifier[1]",
        ),
        ({"resourceType": "Observation"}, 400, ""),
    ],
)
def test_invalid_patients_get_an_operation_outcome(
    fhir: Fhir, resource: dict, status: int, where: str
) -> None:
    got, body, _ = fhir.call("POST", "/Patient", resource)
    assert got == status, body
    assert body["resourceType"] == "OperationOutcome"
    assert all(issue["diagnostics"] for issue in body["issue"])
    if where:
        assert any(
            where in e
            for issue in body["issue"]
            for e in [*issue.get("expression", []), issue["diagnostics"]]
        )
    assert Patient.objects.count() == 0
    assert InboundMessage.objects.get(transport="fhir").status == "rejected"  # kept, raw


def test_malformed_json_is_a_400(fhir: Fhir) -> None:
    status, body, _ = fhir.call("POST", "/Patient", raw=b'{"resourceType": "Pat')
    assert status == 400 and body["issue"][0]["code"] == "structure"


def test_a_duplicate_patient_is_a_409(fhir: Fhir) -> None:
    resource = patient_resource()
    assert fhir.call("POST", "/Patient", resource)[0] == 201
    status, body, _ = fhir.call("POST", "/Patient", resource)
    assert status == 409 and body["issue"][0]["code"] == "duplicate"


def test_a_first_generation_15_digit_id_number_is_kept_as_its_18_digit_number(
    fhir: Fhir,
) -> None:
    old = patient_resource(
        identifier=[{"system": RESIDENT, "value": "110105491231002"}],
        name=[{"text": "王淑珍"}],
        gender="female",
        birthDate="1949-12-31",
    )
    status, created, _ = fhir.call("POST", "/Patient", old)
    assert status == 201, created
    assert Patient.objects.get().id_number == "11010519491231002X"
    again = old | {"identifier": [{"system": RESIDENT, "value": "11010519491231002X"}]}
    status, body, _ = fhir.call("POST", "/Patient", again)
    assert status == 409 and body["issue"][0]["code"] == "duplicate"
    status, found, _ = fhir.call("GET", f"/Patient?identifier={RESIDENT}|110105491231002")
    assert [e["resource"]["id"] for e in found["entry"]] == [created["id"]]
    bad = old | {"identifier": [{"system": RESIDENT, "value": "110105490230002"}]}
    status, body, _ = fhir.call("POST", "/Patient", bad)
    assert status == 422 and "15" in body["issue"][0]["diagnostics"]


def test_a_patient_with_only_a_landline_is_kept_and_served_as_a_home_phone(fhir: Fhir) -> None:
    resource = patient_resource(
        telecom=[{"system": "phone", "value": "021 6234 5678", "use": "home"}]
    )
    status, created, _ = fhir.call("POST", "/Patient", resource)
    assert status == 201, created
    assert created["telecom"] == [{"system": "phone", "value": "021-****5678", "use": "home"}]
    assert Patient.objects.get().phone_kind == "landline"
    status, found, _ = fhir.call("GET", "/Patient?phone=021-62345678")
    assert [e["resource"]["id"] for e in found["entry"]] == [created["id"]]


def test_search_patients_with_paging(fhir: Fhir) -> None:
    ids, numbers = [], [valid_id(date(1950 + n, 1, 1)) for n in range(3)]
    for n in range(3):
        resource = patient_resource(
            identifier=[{"system": RESIDENT, "value": numbers[n]}],
            name=[{"text": f"测试{n}"}],
            birthDate=f"{1950 + n}-01-01",
            telecom=[{"system": "phone", "value": f"1390000000{n}"}],
        )
        ids.append(fhir.call("POST", "/Patient", resource)[1]["id"])
    status, page, _ = fhir.call("GET", "/Patient?name=" + quote("测试") + "&_count=2")
    assert status == 200
    Bundle.model_validate(page)
    assert page["total"] == 3 and len(page["entry"]) == 2
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    second = fhir.call("GET", next_url.split("/fhir/R4", 1)[1])[1]
    assert len(second["entry"]) == 1
    one = fhir.call("GET", "/Patient?identifier=" + quote(f"{RESIDENT}|{numbers[2]}"))[1]
    assert [e["resource"]["id"] for e in one["entry"]] == [ids[2]]
    other = numbers[2][:-1] + ("1" if numbers[2][-1] != "1" else "2")  # not a known number
    unknown = fhir.call("GET", "/Patient?identifier=" + quote(f"{RESIDENT}|{other}"))
    assert unknown[1]["total"] == 0
    by_phone = fhir.call("GET", "/Patient?phone=13900000001")[1]
    assert [e["resource"]["id"] for e in by_phone["entry"]] == [ids[1]]
    born = fhir.call("GET", "/Patient?birthdate=ge1951-01-01&birthdate=lt1952")[1]
    assert [e["resource"]["id"] for e in born["entry"]] == [ids[1]]
    assert fhir.call("GET", "/Patient?_count=-1")[0] == 400
    # _count=0: the total alone, and no page to follow (a "next" equal to "self" looped)
    counted = fhir.call("GET", "/Patient?name=" + quote("测试") + "&_count=0&_offset=1")[1]
    assert counted["total"] == 3 and not counted.get("entry")
    assert [link["relation"] for link in counted["link"]] == ["self"]


def test_a_search_by_a_patient_id_too_long_to_be_one_finds_nothing(fhir: Fhir) -> None:
    """A 23-digit id is no row's: SQLite refused it ("too large to convert"), a 500."""
    huge = "9" * 23
    for path in (
        f"/Observation?patient={huge}",
        f"/Task?patient={huge}",
        f"/CarePlan?subject=Patient/{huge}",
    ):
        status, bundle, _ = fhir.call("GET", path)
        assert status == 200, path
        assert bundle["total"] == 0
    assert fhir.call("GET", "/Observation?patient=abc")[0] == 400


def test_an_observation_dated_before_1900_is_refused_naming_the_field(fhir: Fhir) -> None:
    """0001-01-01 in Shanghai is year 0 in UTC: storing it failed with a 500."""
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    resource = observation(f"Patient/{patient_id}", "2345-7", 5.5, "mmol/L", when="0001-01-01")
    status, outcome, _ = fhir.call("POST", "/Observation", resource)
    assert status == 422, outcome
    assert outcome["issue"][0]["expression"] == ["Observation.effectiveDateTime"]
    assert "before 1900" in outcome["issue"][0]["diagnostics"]
    assert not Observation.objects.exists()


def test_observations_are_graded_and_critical_values_alerted(fhir: Fhir) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    ref = f"Patient/{patient_id}"
    status, low, _ = fhir.call("POST", "/Observation", observation(ref, "14749-6", 3.2, "mmol/L"))
    assert status == 201, low
    FhirObservation.model_validate(low)
    assert low["interpretation"][0]["coding"][0]["code"] == "L"
    assert low["referenceRange"][0]["low"]["value"] == 3.9
    status, critical, _ = fhir.call(
        "POST", "/Observation", observation(ref, "2823-3", 6.8, "mmol/L")
    )
    assert critical["interpretation"][0]["coding"][0]["code"] == "HH"
    alert = Alert.objects.get()
    assert alert.observation_id == int(critical["id"]) and "≥6.2" in alert.reason
    found = fhir.call("GET", f"/Observation?patient={patient_id}&code={LOINC}|2823-3")[1]
    assert [e["resource"]["id"] for e in found["entry"]] == [critical["id"]]
    by_date = fhir.call("GET", f"/Observation?patient={patient_id}&date=2026-11-23")[1]
    assert by_date["total"] == 2
    assert fhir.call("GET", f"/Observation?patient={patient_id}&date=lt2026-11-23")[1]["total"] == 0


def test_an_observation_for_another_organisations_patient_is_refused(
    fhir: Fhir, patient_factory: Any, community: Any
) -> None:
    theirs = patient_factory(organisation=community)
    status, body, _ = fhir.call(
        "POST", "/Observation", observation(f"Patient/{theirs.pk}", "14749-6", 5.0, "mmol/L")
    )
    assert status == 422 and body["issue"][0]["code"] == "not-found"
    assert fhir.call("GET", f"/Patient/{theirs.pk}")[0] == 404


def transaction_bundle(kind: str = "transaction", bad: bool = False) -> dict[str, Any]:
    entries = [
        {
            "fullUrl": "urn:uuid:p1",
            "resource": patient_resource(),
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": "urn:uuid:e1",
            "request": {"method": "POST", "url": "Encounter"},
            "resource": {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": {"reference": "urn:uuid:p1"},
                "period": {"start": "2026-11-20T08:00:00+08:00"},
            },
        },
        {
            "fullUrl": "urn:uuid:o1",
            "request": {"method": "POST", "url": "Observation"},
            "resource": observation("urn:uuid:p1", "14647-2", 6.4, "mmol/L"),
        },
        {
            "fullUrl": "urn:uuid:o2",
            "request": {"method": "POST", "url": "Observation"},
            "resource": observation("urn:uuid:p1", "2093-3", 200, "mg/dL"),
        },
        {
            "fullUrl": "urn:uuid:r1",
            "request": {"method": "POST", "url": "DiagnosticReport"},
            "resource": {
                "resourceType": "DiagnosticReport",
                "status": "final",
                "code": {"text": "血脂"},
                "subject": {"reference": "urn:uuid:p1"},
                "effectiveDateTime": "2026-11-20T08:00:00+08:00",
                "result": [{"reference": "urn:uuid:o1"}, {"reference": "urn:uuid:o2"}],
                "conclusion": "总胆固醇升高",
            },
        },
        {
            "fullUrl": "urn:uuid:c1",
            "request": {"method": "POST", "url": "Condition"},
            "resource": {
                "resourceType": "Condition",
                "subject": {"reference": "urn:uuid:p1"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E78.0"}]},
            },
        },
    ]
    if bad:
        del entries[3]["resource"]["effectiveDateTime"]
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def test_a_transaction_bundle_links_everything(fhir: Fhir) -> None:
    status, body, _ = fhir.call("POST", "", transaction_bundle())
    assert status == 200, body
    assert body["type"] == "transaction-response"
    locations = [e["response"]["location"] for e in body["entry"]]
    assert [loc.split("/")[0] for loc in locations] == [
        "Patient",
        "Encounter",
        "Observation",
        "Observation",
        "DiagnosticReport",
        "Condition",
    ]
    patient = Patient.objects.get()
    report = DiagnosticReport.objects.get()
    assert report.patient == patient and report.observations.count() == 2
    tc = Observation.objects.get(code="2093-3")
    assert tc.value_normalised == pytest.approx(5.18) and tc.interpretation == "N"
    assert Encounter.objects.get().patient == patient
    assert patient.conditions.get().name == "高胆固醇血症"  # named from the ICD-10 catalogue
    status, read, _ = fhir.call("GET", f"/DiagnosticReport/{report.pk}")
    assert len(read["result"]) == 2 and read["conclusion"] == "总胆固醇升高"


def test_a_failing_transaction_changes_nothing(fhir: Fhir) -> None:
    status, body, _ = fhir.call("POST", "", transaction_bundle(bad=True))
    assert status == 422
    assert any("Bundle.entry[3]" in e for i in body["issue"] for e in i.get("expression", []))
    assert not Patient.objects.exists() and not Observation.objects.exists()


def test_a_batch_answers_each_entry(fhir: Fhir) -> None:
    bundle = transaction_bundle(kind="batch")
    bundle["entry"][0]["request"] = {"method": "POST", "url": "Patient"}
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    for entry in bundle["entry"][1:]:
        entry["resource"]["subject"] = {"reference": f"Patient/{patient_id}"}
    bundle["entry"][4]["resource"]["result"] = []
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 200 and body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses[0].startswith("409")  # the same patient again
    assert all(s.startswith("201") for s in statuses[1:])


def test_update_a_patient_keeps_masked_identifiers(fhir: Fhir) -> None:
    created = fhir.call("POST", "/Patient", patient_resource())[1]
    stored_id = Patient.objects.get().id_number
    created["telecom"] = [{"system": "phone", "value": "13955556666"}]
    status, updated, _ = fhir.call("PUT", f"/Patient/{created['id']}", created)
    assert status == 200, updated
    patient = Patient.objects.get()
    assert patient.id_number == stored_id and patient.phone == "13955556666"
    assert updated["telecom"][0]["value"] == "139****6666"
    wrong = dict(created, id="999")
    assert fhir.call("PUT", f"/Patient/{created['id']}", wrong)[0] == 400


def test_encounters_and_conditions(fhir: Fhir) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    encounter = {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": "2026-11-01T09:00:00+08:00"},
        "identifier": [{"value": "ZY001"}],
        "serviceType": {"text": "心内科"},
    }
    status, created, _ = fhir.call("POST", "/Encounter", encounter)
    assert status == 201 and created["class"]["code"] == "IMP"
    encounter["status"] = "finished"
    encounter["period"]["end"] = "2026-11-10T15:00:00+08:00"
    status, updated, _ = fhir.call("PUT", f"/Encounter/{created['id']}", encounter)
    assert status == 200 and updated["period"]["end"].startswith("2026-11-10")
    bad = dict(encounter, status="unknown-status")
    # fhir.resources does not check code values: CareLoop does, and answers 422.
    status, body, _ = fhir.call("POST", "/Encounter", bad)
    assert status == 422 and body["issue"][0]["code"] == "code-invalid"
    condition = condition_resource(
        patient_id, "I50", "心力衰竭", encounter={"reference": f"Encounter/{created['id']}"}
    )
    status, made, _ = fhir.call("POST", "/Condition", condition)
    assert status == 201 and made["code"]["coding"][0]["code"] == "I50"
    found = fhir.call("GET", f"/Condition?patient=Patient/{patient_id}&code=I50")[1]
    assert found["total"] == 1
    no_code = dict(condition, code={"text": "心衰"})
    assert fhir.call("POST", "/Condition", no_code)[0] == 422
    # An encounter of another patient (or none) is refused, not linked or dropped.
    other = patient_resource(telecom=[{"system": "phone", "value": "13911113333"}])
    other_id = fhir.call("POST", "/Patient", other)[1]["id"]
    elsewhere = condition_resource(
        other_id, "I10", "高血压", encounter={"reference": f"Encounter/{created['id']}"}
    )
    status, body, _ = fhir.call("POST", "/Condition", elsewhere)
    assert status == 422 and "encounter" in body["issue"][0]["diagnostics"]
    missing = dict(elsewhere, encounter={"reference": "Encounter/99999"})
    assert fhir.call("POST", "/Condition", missing)[0] == 422

    # A date search matches the whole stay (1–10 November), not only the day it began.
    def found_by(*dates: str) -> int:
        query = "&".join(f"date={d}" for d in dates)
        return fhir.call("GET", f"/Encounter?patient={patient_id}&{query}")[1]["total"]

    assert found_by("2026-11") == 1 and found_by("2026-11-05") == 0  # not inside one day
    assert found_by("ge2026-11-05") == 1 and found_by("le2026-11-05") == 1
    assert found_by("ge2026-11-05", "le2026-11-06") == 1
    assert found_by("gt2026-11-10") == 0 and found_by("lt2026-11-01") == 0
    assert found_by("sa2026-10-31") == 1 and found_by("eb2026-11-11") == 1
    # A visit recorded without an end is the moment it began; an inpatient stay still going
    # on reaches every later day.
    visit = dict(encounter, status="in-progress", period={"start": "2026-11-20T09:00:00+08:00"})
    visit["class"] = dict(encounter["class"], code="AMB")
    visit["identifier"] = [{"value": "MZ001"}]
    assert fhir.call("POST", "/Encounter", visit)[0] == 201
    stay = dict(visit, period={"start": "2026-11-25T09:00:00+08:00"}, identifier=[{"value": "ZY2"}])
    stay["class"] = encounter["class"]
    assert fhir.call("POST", "/Encounter", stay)[0] == 201
    assert found_by("2026-11-20") == 1 and found_by("2026-11-21") == 0  # the visit
    assert found_by("ge2026-11-30") == 1  # the stay going on
    assert found_by("2026-11-25") == 0  # a day does not contain a stay still going on
    # A diagnosis dated in the future is refused; a date alone (valid FHIR) is read.
    future = condition_resource(patient_id, "I10", "高血压", onsetDateTime="2030-01-01")
    status, body, _ = fhir.call("POST", "/Condition", future)
    assert status == 422 and "future" in body["issue"][0]["diagnostics"]
    dated = condition_resource(patient_id, "I10", "高血压", onsetDateTime="2020-03")
    status, made, _ = fhir.call("POST", "/Condition", dated)
    assert status == 201 and made["onsetDateTime"] == "2020-03-01"


def test_an_observation_with_a_mistyped_loinc_code_is_refused(fhir: Fhir) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    resource = observation(f"Patient/{patient_id}", "99999-9", 5.1, "mmol/L")
    status, body, _ = fhir.call("POST", "/Observation", resource)
    assert status == 422 and body["issue"][0]["code"] == "code-invalid"
    assert "99999-9" in body["issue"][0]["diagnostics"]
    assert not Observation.objects.exists()


def test_an_observation_dated_by_its_day_alone_is_accepted(fhir: Fhir) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    resource = observation(f"Patient/{patient_id}", "14749-6", 5.1, "mmol/L", "2026-11-20")
    status, made, _ = fhir.call("POST", "/Observation", resource)
    assert status == 201, made
    # local midnight (served as stored, in UTC)
    served = datetime.fromisoformat(made["effectiveDateTime"])
    assert served == datetime.fromisoformat("2026-11-20T00:00:00+08:00")
    resource["effectiveDateTime"] = "2026-11-31"
    status, body, _ = fhir.call("POST", "/Observation", resource)
    assert status == 400 and "effectiveDateTime" in body["issue"][0]["diagnostics"]


def test_a_condition_without_display_is_named_from_the_catalogue_or_its_category(
    fhir: Fhir,
) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    for code, name in (("I10", "原发性高血压"), ("I50.9", "心力衰竭")):
        condition = condition_resource(patient_id, code, "")
        del condition["code"]["coding"][0]["display"]
        status, made, _ = fhir.call("POST", "/Condition", condition)
        assert status == 201 and made["code"]["coding"][0]["display"] == name
    unknown = condition_resource(patient_id, "Q99.9", "")
    del unknown["code"]["coding"][0]["display"]
    status, body, _ = fhir.call("POST", "/Condition", unknown)
    assert status == 422 and "Q99.9" in body["issue"][0]["diagnostics"]
    # With a display it is kept under it; what is not an ICD-10 code is refused even with one
    # (as the staff form and HL7's DG1 refuse it).
    status, made, _ = fhir.call(
        "POST", "/Condition", condition_resource(patient_id, "Q99.9", "某病")
    )
    assert status == 201 and made["code"]["coding"][0]["display"] == "某病"
    malformed = condition_resource(patient_id, "ZZZ.ZZ", "ZZZ.ZZ")
    status, body, _ = fhir.call("POST", "/Condition", malformed)
    assert status == 422 and body["issue"][0]["expression"] == ["Condition.code"]
    assert "ZZZ.ZZ is not an ICD-10 code" in body["issue"][0]["diagnostics"]
    assert not Condition.objects.filter(icd10_code="ZZZ.ZZ").exists()


def test_a_transaction_is_stored_raw_and_marked_processed_with_its_rows(fhir: Fhir) -> None:
    status, _, _ = fhir.call("POST", "", transaction_bundle())
    assert status == 200
    stored = InboundMessage.objects.get(transport="fhir", message_type="Bundle")
    assert stored.status == "processed" and stored.accepted
    assert json.loads(bytes(stored.raw))["type"] == "transaction"


def test_a_user_who_may_not_enrol_gets_a_403_outcome(live_server: Any, hospital: Any) -> None:
    from tests.factories import UserFactory

    _, token = do_create_token(UserFactory(organisation=hospital))  # no role
    status, body, _ = Fhir(live_server.url, token).call("POST", "/Patient", patient_resource())
    assert status == 403 and body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "forbidden" and not Patient.objects.exists()


def test_a_batch_entry_cannot_refer_to_a_patient_it_failed_to_create(fhir: Fhir) -> None:
    fhir.call("POST", "/Patient", patient_resource())
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "request": {"method": "POST", "url": "Patient"},
                "resource": patient_resource(),  # the same person again: 409
            },
            {
                "request": {"method": "POST", "url": "Observation"},
                "resource": observation("urn:uuid:p1", "14749-6", 5.1, "mmol/L"),
            },
            "not an entry",
        ],
    }
    status, body, _ = fhir.call("POST", "", batch)
    assert status == 200
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["409 Conflict", "422 Unprocessable Entity", "400 Bad Request"]
    assert "urn:uuid:p1" in body["entry"][1]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert Patient.objects.count() == 1 and not Observation.objects.exists()


def test_a_failed_batch_entry_does_not_unname_an_earlier_one_of_the_same_full_url(
    fhir: Fhir,
) -> None:
    first = patient_resource()
    again = patient_resource()  # the same person: refused (409)
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "request": {"method": "POST", "url": "Patient"},
                "resource": first,
            },
            {
                "fullUrl": "urn:uuid:p1",
                "request": {"method": "POST", "url": "Patient"},
                "resource": again,
            },
            {
                "request": {"method": "POST", "url": "Observation"},
                "resource": observation("urn:uuid:p1", "14749-6", 5.1, "mmol/L"),
            },
        ],
    }
    status, body, _ = fhir.call("POST", "", batch)
    assert status == 200, body
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "409 Conflict", "201 Created"]
    assert Observation.objects.get().patient == Patient.objects.get()


def test_a_body_sent_as_another_type_is_refused_with_415(fhir: Fhir, live_server: Any) -> None:
    body = json.dumps(patient_resource()).encode()
    request = urllib.request.Request(fhir.base + "/Patient", data=body, method="POST")
    request.add_header("Content-Type", "text/plain")
    request.add_header("Authorization", f"Bearer {fhir.token}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 415
    outcome = json.loads(refused.value.read())
    assert "application/fhir+json" in outcome["issue"][0]["diagnostics"]
    assert not Patient.objects.exists()
    request.remove_header("Content-type")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    assert urllib.request.urlopen(request, timeout=10).status == 201


def test_a_value_and_its_range_are_given_in_the_same_unit(fhir: Fhir) -> None:
    _, created, _ = fhir.call("POST", "/Patient", patient_resource())
    sent = observation(f"Patient/{created['id']}", "2093-3", 240, "mg/dL")
    sent["referenceRange"] = [{"high": {"value": 200, "unit": "mg/dL"}}]
    status, body, _ = fhir.call("POST", "/Observation", sent)
    assert status == 201, body
    assert body["valueQuantity"] == {
        "value": 240,
        "unit": "mg/dL",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    }
    assert body["referenceRange"][0]["high"] == {"value": 200, "unit": "mg/dL"}
    assert body["interpretation"][0]["coding"][0]["code"] == "H"


def test_names_keep_their_family_and_given_parts(fhir: Fhir) -> None:
    from careloop.interop.fhir.patient import join_name, split_name

    assert (join_name("张", ["秀英"]), split_name("张秀英")) == ("张秀英", ("张", ["秀英"]))
    assert (join_name("Smith", ["John", "Paul"]), split_name("John Paul Smith")) == (
        "John Paul Smith",
        ("Smith", ["John", "Paul"]),
    )
    status, body, _ = fhir.call(
        "POST", "/Patient", patient_resource(name=[{"family": "Smith", "given": ["John"]}])
    )
    assert status == 201, body
    assert Patient.objects.get().name == "John Smith"
    _, read, _ = fhir.call("GET", f"/Patient/{body['id']}")
    assert read["name"][0] == {"text": "John Smith", "family": "Smith", "given": ["John"]}


def test_a_result_may_name_its_patient_by_identifier(fhir: Fhir) -> None:
    resource = patient_resource()
    fhir.call("POST", "/Patient", resource)
    number = resource["identifier"][0]["value"]
    by_number = f"Patient?identifier={RESIDENT}|{number}"
    status, body, _ = fhir.call(
        "POST", "/Observation", observation(by_number, "14749-6", 5.2, "mmol/L")
    )
    assert status == 201, body
    assert Observation.objects.get().patient == Patient.objects.get()
    from careloop.interop.fhir.base import patients_named

    named = patients_named([("Observation", "", {"subject": {"reference": by_number}})])
    assert named == [Patient.objects.get().pk]  # held while the write runs, as Patient/<id>
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "request": {"method": "POST", "url": "Observation"},
                "resource": observation(by_number, "14749-6", 5.4, "mmol/L"),
            }
        ],
    }
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 200, body
    assert Observation.objects.filter(patient=Patient.objects.get()).count() == 2
    unknown = observation(
        f"Patient?identifier={RESIDENT}|110101199001010000", "14749-6", 5, "mmol/L"
    )
    status, body, _ = fhir.call("POST", "/Observation", unknown)
    assert status == 422 and "no Patient matches" in body["issue"][0]["diagnostics"]
    other = observation("Patient?name=周建华", "14749-6", 5.0, "mmol/L")
    status, body, _ = fhir.call("POST", "/Observation", other)
    assert status == 422 and "identifier only" in body["issue"][0]["diagnostics"]
    # The value alone, or a system we do not keep, could name someone else: refused.
    for loose in (f"Patient?identifier={number}", f"Patient?identifier=urn:x:mrn|{number}"):
        status, body, _ = fhir.call(
            "POST", "/Observation", observation(loose, "14749-6", 5, "mmol/L")
        )
        assert status == 422 and "system CareLoop keeps" in body["issue"][0]["diagnostics"]


def test_a_result_and_its_report_are_corrected_by_update(fhir: Fhir) -> None:
    _, created, _ = fhir.call("POST", "/Patient", patient_resource())
    patient_ref = f"Patient/{created['id']}"
    status, obs, _ = fhir.call(
        "POST", "/Observation", observation(patient_ref, "14749-6", 5.1, "mmol/L")
    )
    assert status == 201 and not Alert.objects.exists()
    corrected = {**observation(patient_ref, "14749-6", 2.1, "mmol/L"), "id": obs["id"]}
    corrected["status"] = "corrected"
    status, body, _ = fhir.call("PUT", f"/Observation/{obs['id']}", corrected)
    assert status == 200, body
    assert body["valueQuantity"]["value"] == 2.1 and body["status"] == "corrected"
    assert body["interpretation"][0]["coding"][0]["code"] == "LL"
    stored = Observation.objects.get()
    assert (stored.pk, stored.value, stored.critical) == (int(obs["id"]), 2.1, True)
    assert Alert.objects.get(kind="critical_value").observation == stored  # newly critical
    fhir.call("PUT", f"/Observation/{obs['id']}", corrected)  # the same again: no new alert
    assert Alert.objects.filter(kind="critical_value").count() == 1
    other = fhir.call(
        "POST",
        "/Patient",
        patient_resource(
            identifier=[{"system": RESIDENT, "value": valid_id(date(1960, 1, 1), male=False)}],
            name=[{"text": "李四"}],
            gender="female",
            birthDate="1960-01-01",
            telecom=[{"system": "phone", "value": "13811110000"}],
        ),
    )[1]
    moved = {**corrected, "subject": {"reference": f"Patient/{other['id']}"}}
    status, body, _ = fhir.call("PUT", f"/Observation/{obs['id']}", moved)
    assert status == 422 and "subject cannot change" in body["issue"][0]["diagnostics"]
    assert Observation.objects.get().patient_id == int(created["id"])

    report = {
        "resourceType": "DiagnosticReport",
        "status": "preliminary",
        "code": {"text": "血糖"},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": "2026-11-23T23:40:00+08:00",
        "result": [{"reference": f"Observation/{obs['id']}"}],
    }
    status, made, _ = fhir.call("POST", "/DiagnosticReport", report)
    assert status == 201, made
    final = {**report, "id": made["id"], "status": "final", "conclusion": "低血糖，已通知"}
    status, body, _ = fhir.call("PUT", f"/DiagnosticReport/{made['id']}", final)
    assert status == 200, body
    assert (body["status"], body["conclusion"]) == ("final", "低血糖，已通知")
    assert DiagnosticReport.objects.get().observations.get() == stored
    _, capability, _ = fhir.call("GET", "/metadata")
    kinds = {
        r["type"]: {i["code"] for i in r["interaction"]} for r in capability["rest"][0]["resource"]
    }
    assert "update" in kinds["Observation"] and "update" in kinds["DiagnosticReport"]


def test_a_bundle_enrolling_a_patient_runs_risk_models_and_rules(fhir: Fhir) -> None:
    from careloop.rules.models import RiskAssessment, RuleFiring
    from careloop.rules.pack import load_pack

    load_pack()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "request": {"method": "POST", "url": "Patient"},
                "resource": patient_resource(),
            },
            *(
                {
                    "request": {"method": "POST", "url": "Observation"},
                    # Today: the rule looks at readings of the last three days.
                    "resource": observation(
                        "urn:uuid:p1", code, value, "mm[Hg]", timezone.now().isoformat()
                    ),
                }
                for code, value in (("8480-6", 186), ("8462-4", 104))
            ),
        ],
    }
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 200, body
    patient = Patient.objects.get()
    assessment = RiskAssessment.objects.get(patient=patient, model="bp-grade")
    assert (assessment.model, assessment.category) == ("bp-grade", "3级高血压")
    firing = RuleFiring.objects.get(patient=patient)
    assert firing.rule.code == "bp-urgent-referral" and firing.alert.patient == patient


def shared_read_only(owner: Any, reader: Any) -> Patient:
    """A patient of ``owner`` that ``reader`` (Carol's cardiology) may read, not change."""
    from careloop.patients.models import PatientShare
    from tests.factories import PatientFactory

    shared: Patient = PatientFactory(organisation=owner)
    PatientShare.objects.create(patient=shared, organisation=reader, can_edit=False)
    return shared


def test_a_batch_entry_for_a_read_only_shared_patient_is_answered_403(
    fhir: Fhir, hospital: Any, cardiology: Any
) -> None:
    shared = shared_read_only(hospital, cardiology)
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "request": {"method": "POST", "url": "Observation"},
                "resource": observation(f"Patient/{shared.pk}", "14749-6", 5.2, "mmol/L"),
            }
        ],
    }
    status, body, _ = fhir.call("POST", "", batch)
    assert status == 200
    assert body["entry"][0]["response"]["status"] == "403 Forbidden"
    assert not Observation.objects.exists()
    assert InboundMessage.objects.get(message_type="Bundle").status == "processed"


def test_a_server_failure_keeps_the_body_and_marks_it_failed(carol: Any, monkeypatch: Any) -> None:
    from django.test import Client

    from careloop.interop.fhir import bundle

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(bundle, "process", broken)
    _, token = do_create_token(carol)
    response = Client(raise_request_exception=False).post(
        "/fhir/R4",
        json.dumps(transaction_bundle()),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 500
    stored = InboundMessage.objects.get(transport="fhir")
    assert stored.status == "failed" and json.loads(bytes(stored.raw))["type"] == "transaction"
    assert "disk full" not in stored.error  # our fault, said plainly, no internals


def test_a_fhir_message_is_not_offered_for_reprocessing(fhir: Fhir, hospital: Any) -> None:
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories import UserFactory

    fhir.call("POST", "/Patient", patient_resource(gender="unknown"))  # refused, kept raw
    stored = InboundMessage.objects.get(transport="fhir")
    staff = UserFactory(organisation=hospital)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_inboundmessage", "change_inboundmessage"])
    )
    client = Client()
    client.force_login(staff)
    page = client.get(f"/interop/messages/{stored.pk}/")
    assert page.status_code == 200 and b'data-testid="reprocess"' not in page.content
    response = client.post(f"/interop/messages/{stored.pk}/reprocess/")
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.status == "rejected"


def test_a_condition_changed_over_fhir_reassesses_the_record(
    fhir: Fhir, cardiology: Any, patient_factory: Any
) -> None:
    from careloop.rules.models import RiskAssessment
    from tests.test_record_assessments import _aged, _results

    woman = patient_factory(organisation=cardiology, sex="female", birth_date=_aged(50))
    _results(woman, **{"8480_6": 135, "8302_2": 160, "29463_7": 64, "8280_0": 85})
    assert RiskAssessment.objects.filter(patient=woman, model="cdrs").get().category == "高风险"
    condition = condition_resource(woman.pk, "J45.9", "哮喘")
    status, made, _ = fhir.call("POST", "/Condition", condition)
    assert status == 201
    assert RiskAssessment.objects.filter(patient=woman, model="cdrs").count() == 1
    condition["code"]["coding"][0].update(code="E11.9", display="2型糖尿病")  # corrected
    status, _, _ = fhir.call("PUT", f"/Condition/{made['id']}", dict(condition, id=made["id"]))
    assert status == 200
    latest = RiskAssessment.objects.filter(patient=woman, model="cdrs").order_by("-id").first()
    assert latest is not None and latest.category == "不适用"


def test_results_over_fhir_hold_their_patient_while_the_record_is_read_and_written(
    fhir: Fhir, held: list[list[int]]
) -> None:
    patient_id = int(fhir.call("POST", "/Patient", patient_resource())[1]["id"])
    held.clear()  # a new patient: nothing to hold
    ref = f"Patient/{patient_id}"
    assert fhir.call("POST", "/Observation", observation(ref, "14749-6", 3.2, "mmol/L"))[0] == 201
    entry = {
        "resource": observation(ref, "2823-3", 4.1, "mmol/L"),
        "request": {"method": "POST", "url": "Observation"},
    }
    for kind in ("transaction", "batch"):
        bundle = {"resourceType": "Bundle", "type": kind, "entry": [entry]}
        assert fhir.call("POST", "", bundle)[0] == 200
    changed = patient_resource(name=[{"text": "周建国"}], id=str(patient_id))
    assert fhir.call("PUT", f"/Patient/{patient_id}", changed)[0] == 200
    assert held == [[patient_id]] * 4  # an HL7 processor with the same person waits


def test_a_batch_entry_holds_the_patient_an_earlier_entry_stored(
    fhir: Fhir, held: list[list[int]]
) -> None:
    # In a batch each entry is committed on its own: once the Patient is stored, an HL7
    # result for the same person may reach a processor while the next entry adds results.
    patient_url = "urn:uuid:7d1c6b1e-6f0e-4c53-9a5e-2b1f7f0c9a11"
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "fullUrl": patient_url,
                "resource": patient_resource(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation(patient_url, "14749-6", 5.1, "mmol/L"),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    status, answer, _headers = fhir.call("POST", "", bundle)
    assert status == 200
    assert [e["response"]["status"][:3] for e in answer["entry"]] == ["201", "201"]
    patient_id = int(answer["entry"][0]["response"]["location"].split("/")[1])
    assert held == [[], [patient_id]]


def test_an_update_holds_the_stored_resources_patient_and_the_one_it_names(
    fhir: Fhir, held: list[list[int]]
) -> None:
    first = int(fhir.call("POST", "/Patient", patient_resource())[1]["id"])
    other = patient_resource(
        identifier=[{"system": RESIDENT, "value": valid_id(date(1956, 4, 1), male=True)}],
        telecom=[{"system": "phone", "value": "13811113333"}],
    )
    second = int(fhir.call("POST", "/Patient", other)[1]["id"])
    made = fhir.call("POST", "/Condition", condition_resource(first, "I10", "高血压"))[1]
    held.clear()
    moved = condition_resource(second, "I10", "高血压", id=made["id"])  # filed under another
    fhir.call("PUT", f"/Condition/{made['id']}", moved)
    entry = {"resource": moved, "request": {"method": "PUT", "url": f"Condition/{made['id']}"}}
    fhir.call("POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    assert held == [sorted([first, second])] * 2


def test_an_update_also_holds_the_patient_a_write_meanwhile_moved_the_resource_to(
    fhir: Fhir, monkeypatch: pytest.MonkeyPatch
) -> None:
    def enrol(phone: str) -> int:
        resource = patient_resource(
            identifier=[{"system": RESIDENT, "value": valid_id(date(1956, 4, 1), male=True)}],
            telecom=[{"system": "phone", "value": phone}],
        )
        return int(fhir.call("POST", "/Patient", resource)[1]["id"])

    first = int(fhir.call("POST", "/Patient", patient_resource())[1]["id"])
    second, third = enrol("13811113333"), enrol("13811114444")
    made = fhir.call("POST", "/Condition", condition_resource(first, "I10", "高血压"))[1]
    held: list[list[int]] = []
    real = patient_locks.holding

    @contextlib.contextmanager
    def holding(patient_ids: Iterable[int]) -> Iterator[None]:
        held.append(sorted(patient_ids))
        if len(held) == 1:  # before the locks are taken, another write files it elsewhere
            Condition.objects.filter(pk=int(made["id"])).update(patient_id=third)
        with real(patient_ids):
            yield

    monkeypatch.setattr(patient_locks, "holding", holding)
    moved = condition_resource(second, "I10", "高血压", id=made["id"])
    # Refused once held: it names the second, and is the third's now (it is not moved).
    assert fhir.call("PUT", f"/Condition/{made['id']}", moved)[0] == 422
    # Held again with the third, whose record it is read from.
    assert held == [sorted([first, second]), sorted([first, second, third])]
    assert Condition.objects.get(pk=int(made["id"])).patient_id == third


def test_a_write_whose_patient_stays_busy_is_answered_409_to_try_again(
    fhir: Fhir, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient_id = int(fhir.call("POST", "/Patient", patient_resource())[1]["id"])

    @contextlib.contextmanager
    def busy(concerned: Any) -> Iterator[None]:
        raise patient_locks.PatientBusy("held elsewhere")
        yield  # pragma: no cover

    monkeypatch.setattr(patient_locks, "holding_settled", busy)
    result = observation(f"Patient/{patient_id}", "14749-6", 5.1, "mmol/L")
    status, body, _headers = fhir.call("POST", "/Observation", result)
    assert status == 409
    assert body["issue"][0]["code"] == "lock-error"
    assert not Observation.objects.filter(patient_id=patient_id).exists()
    assert InboundMessage.objects.get(message_type="Observation create").status == "rejected"


def test_the_patients_a_write_names_are_read_as_references_are() -> None:
    def subject(reference: object) -> tuple[str, str, dict[str, Any]]:
        return ("Observation", "", {"subject": {"reference": reference}})

    named = patients_named(
        [
            subject("Patient/5"),
            subject("https://his.example/fhir/R4/Patient/7"),
            subject("Patient/9/_history/2"),
            subject("Patient/15/_history/3f9a0c2b7e1d4a65"),  # our versionId is a digest
            subject("Patient/²"),  # not a digit we read: no lock, and the write is refused
            subject("urn:uuid:0f1d"),  # created by the Bundle: nobody else knows it yet
            ("Observation", "", {"subject": "Patient/11"}),  # malformed: refused later
            ("Patient", "13", {}),
            ("Condition", "", {"patient": {"reference": "Patient/5"}}),
        ]
    )
    assert named == [5, 7, 9, 13, 15]


def test_a_read_or_update_by_an_id_too_long_to_be_one_is_not_found(fhir: Fhir) -> None:
    """A 23-digit id (or a digit that is not 0–9, "²") in a read or an update reached the
    query: SQLite refused the number ("too large to convert"), int("²") failed, a 500."""
    huge = "9" * 23
    for path in (f"/Patient/{huge}", f"/Observation/{huge}", "/Patient/%C2%B2"):
        status, body, _ = fhir.call("GET", path)
        assert status == 404, (path, body)
        assert body["resourceType"] == "OperationOutcome"
    status, body, _ = fhir.call("PUT", f"/Patient/{huge}", patient_resource(id=huge))
    assert status in (400, 404, 422), (status, body)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": observation("Patient/1", "2345-7", 5.1, "mmol/L") | {"id": huge},
                "request": {"method": "PUT", "url": f"Observation/{huge}"},
            }
        ],
    }
    status, body, _ = fhir.call("POST", "", bundle)
    assert status == 200, body
    assert not body["entry"][0]["response"]["status"].startswith("500"), body
