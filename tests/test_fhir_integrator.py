"""A hospital integrator's FHIR client against /fhir/R4, as such clients write requests:
quantities with UCUM codes beside words for people, Bundles carrying every resource type
CareLoop takes, and the errors they meet."""

import json
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest

from careloop.accounts.tokens import do_create_token
from careloop.clinical.models import Observation
from careloop.followup.models import Alert
from careloop.patients.models import Patient
from tests.factories import valid_id
from tests.test_fhir import LOINC, RESIDENT, Fhir, patient_resource

pytestmark = pytest.mark.django_db(transaction=True)
UCUM = "http://unitsofmeasure.org"


@pytest.fixture
def fhir(live_server: Any, carol: Any) -> Fhir:
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


def enrol(fhir: Fhir) -> str:
    status, body, _ = fhir.call("POST", "/Patient", patient_resource())
    assert status == 201, body
    return str(body["id"])


def glucose(patient_id: str, quantity: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2345-7"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-11-23T08:00:00+08:00",
        "valueQuantity": quantity,
    }


def test_a_quantity_in_words_for_people_is_graded_by_its_ucum_code(fhir: Fhir) -> None:
    """A glucose of 30 sent with unit 毫摩尔/升 (the words a Chinese LIS shows) and UCUM code
    mmol/L was stored ungraded: no interpretation, and its critical value raised no alert."""
    patient = enrol(fhir)
    quantity = {"value": 30, "unit": "毫摩尔/升", "system": UCUM, "code": "mmol/L"}
    status, body, _ = fhir.call("POST", "/Observation", glucose(patient, quantity))
    assert status == 201, body
    assert body["interpretation"][0]["coding"][0]["code"] == "HH"
    assert Observation.objects.get(pk=body["id"]).critical
    assert Alert.objects.filter(patient_id=patient, kind=Alert.Kind.CRITICAL_VALUE).count() == 1
    # in mg/dL by its code, whatever the words: converted and graded
    quantity = {"value": 126, "unit": "毫克/分升", "system": UCUM, "code": "mg/dL"}
    status, body, _ = fhir.call("POST", "/Observation", glucose(patient, quantity))
    assert status == 201, body
    assert body["interpretation"][0]["coding"][0]["code"] == "H"
    # words that are the same unit are kept as sent
    quantity = {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
    pressure = glucose(patient, quantity) | {
        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]}
    }
    status, body, _ = fhir.call("POST", "/Observation", pressure)
    assert status == 201, body
    assert body["valueQuantity"]["unit"] == "mmHg"


def test_a_comma_in_a_search_value_means_either(fhir: Fhir, cardiology: Any) -> None:
    """FHIR search reads "a,b" as a or b. `_id=1,2`, `status=final,amended`,
    `code=I10,E11.9`, `gender=<system>|male` and `patient=1,2` each matched nothing (or were
    refused) as one value never stored."""
    from tests.factories import PatientFactory
    from tests.test_fhir import condition_resource

    first, second = (PatientFactory(organisation=cardiology) for _ in range(2))
    for patient, code in ((first, "I10"), (second, "E11.9")):
        status, body, _ = fhir.call(
            "POST", "/Condition", condition_resource(patient.pk, code, "诊断")
        )
        assert status == 201, body
    status, body, _ = fhir.call("POST", "/Observation", glucose(str(first.pk), {"value": 5}))
    assert status == 201, body
    corrected = body | {"status": "corrected", "valueQuantity": {"value": 5.5}}
    assert fhir.call("PUT", f"/Observation/{body['id']}", corrected)[0] == 200
    status, body, _ = fhir.call("POST", "/Observation", glucose(str(second.pk), {"value": 6}))
    assert status == 201, body

    for patient, stay in ((first, "finished"), (second, "in-progress")):
        visit = {
            "resourceType": "Encounter",
            "status": stay,
            "class": {"code": "AMB"},
            "subject": {"reference": f"Patient/{patient.pk}"},
            "period": {"start": "2026-11-20T09:00:00+08:00"},
        }
        assert fhir.call("POST", "/Encounter", visit)[0] == 201
        report = {
            "resourceType": "DiagnosticReport",
            "status": "final" if stay == "finished" else "preliminary",
            "code": {"coding": [{"code": "LIPID" if stay == "finished" else "GLU"}]},
            "subject": {"reference": f"Patient/{patient.pk}"},
            "effectiveDateTime": "2026-11-20T09:00:00+08:00",
        }
        assert fhir.call("POST", "/DiagnosticReport", report)[0] == 201

    def total(query: str) -> int:
        status, bundle, _ = fhir.call("GET", query)
        assert status == 200, bundle
        return int(bundle["total"])

    assert total(f"/Patient?_id={first.pk},{second.pk}") == 2
    assert total(f"/Patient?_id={first.pk}&_id={second.pk}") == 0  # repeated: both at once
    assert total("/Condition?code=I10,E11.9") == 2
    assert total(f"/Condition?code={quote('http://hl7.org/fhir/sid/icd-10|I10')}") == 1
    assert total("/Condition?clinical-status=active,recurrence") == 2
    assert total("/Observation?status=final,amended") == 2
    assert total("/Observation?status=amended") == 1
    assert total(f"/Observation?patient={first.pk},{second.pk}") == 2
    assert total("/Observation?category=laboratory,vital-signs") == 2
    assert total("/Encounter?status=finished,in-progress") == 2
    assert total("/Encounter?class=AMB,IMP") == 2
    assert total("/DiagnosticReport?status=final,preliminary") == 2
    assert total("/DiagnosticReport?code=LIPID,GLU") == 2
    sex = "male" if first.sex == "male" else "female"
    gender = quote(f"http://hl7.org/fhir/administrative-gender|{sex}")
    assert total(f"/Patient?_id={first.pk}&gender={gender}") == 1
    assert total(f"/Patient?_id={first.pk}&gender=male,female") == 1


def test_a_search_posted_to_search_is_answered_as_by_get(fhir: Fhir, cardiology: Any) -> None:
    """POST [type]/_search with the parameters in a form body (what FHIR clients send when
    the query holds identifiers they keep out of URLs and logs) was a 404 "Patient/_search is
    not known"; FHIR asks a server that searches by GET to search by POST too."""
    import urllib.request
    from urllib.parse import urlencode

    from tests.factories import PatientFactory

    first, second = (PatientFactory(organisation=cardiology) for _ in range(2))

    def post(path: str, form: dict[str, str], kind: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            fhir.base + path, data=urlencode(form).encode(), method="POST"
        )
        request.add_header("Content-Type", kind)
        request.add_header("Authorization", f"Bearer {fhir.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    form = {"identifier": f"urn:careloop:sid:card|{first.card_number}"}
    status, bundle = post("/Patient/_search", form, "application/x-www-form-urlencoded")
    assert status == 200, bundle
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["id"] == str(first.pk)
    # parameters in the URL and the body together: both apply
    form_kind = "application/x-www-form-urlencoded"
    status, bundle = post(f"/Patient/_search?_id={first.pk}", {"gender": first.sex}, form_kind)
    assert status == 200 and bundle["total"] == 1
    status, bundle = post(f"/Patient/_search?_id={first.pk}", {"_id": str(second.pk)}, form_kind)
    assert status == 200 and bundle["total"] == 0
    status, outcome = post("/Patient/_search", form, "application/fhir+json")
    assert status == 415 and outcome["resourceType"] == "OperationOutcome"
    status, outcome = post("/Bogus/_search", form, "application/x-www-form-urlencoded")
    assert status == 404 and outcome["resourceType"] == "OperationOutcome"


def test_other_paths_and_failures_are_answered_with_an_operation_outcome(
    fhir: Fhir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET Patient/5/_history (a client checking for versions), Patient/5/$everything, and
    a failure of ours were answered with the staff pages' HTML 404 or 500, which a FHIR
    client cannot read."""
    from careloop.interop.fhir.patient import PatientHandler

    patient = enrol(fhir)
    for path in (f"/Patient/{patient}/_history", f"/Patient/{patient}/$everything"):
        status, outcome, headers = fhir.call("GET", path)
        assert status == 404 and outcome["resourceType"] == "OperationOutcome", path
        assert headers["Content-Type"].startswith("application/fhir+json")
    assert (
        "not kept" in fhir.call("GET", f"/Patient/{patient}/_history")[1]["issue"][0]["diagnostics"]
    )

    def broken(*_args: Any) -> Any:
        raise RuntimeError("a defect")

    monkeypatch.setattr(PatientHandler, "to_fhir", broken)
    status, outcome, headers = fhir.call("GET", f"/Patient/{patient}")
    assert status == 500 and outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "exception"
    assert "a defect" not in json.dumps(outcome)  # the traceback is for the log


def test_a_visit_or_diagnosis_updated_under_another_patient_is_refused(
    fhir: Fhir, cardiology: Any
) -> None:
    """A PUT of an Encounter or a Condition naming another patient was answered 200 and
    left under the first (the sender believed it moved); a result's update is refused so."""
    from careloop.clinical.models import Condition, Encounter
    from tests.factories import PatientFactory
    from tests.test_fhir import condition_resource

    first, second = (PatientFactory(organisation=cardiology) for _ in range(2))
    visit = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{first.pk}"},
        "period": {"start": "2026-11-20T09:00:00+08:00"},
    }
    status, made, _ = fhir.call("POST", "/Encounter", visit)
    assert status == 201, made
    moved = visit | {"id": made["id"], "subject": {"reference": f"Patient/{second.pk}"}}
    status, outcome, _ = fhir.call("PUT", f"/Encounter/{made['id']}", moved)
    assert status == 422, outcome
    assert outcome["issue"][0]["expression"] == ["Encounter.subject"]
    assert Encounter.objects.get(pk=made["id"]).patient_id == first.pk

    status, made, _ = fhir.call("POST", "/Condition", condition_resource(first.pk, "I10", "高血压"))
    assert status == 201, made
    moved = condition_resource(second.pk, "I10", "高血压", id=made["id"])
    status, outcome, _ = fhir.call("PUT", f"/Condition/{made['id']}", moved)
    assert status == 422, outcome
    assert outcome["issue"][0]["expression"] == ["Condition.subject"]
    assert Condition.objects.get(pk=made["id"]).patient_id == first.pk
    # the same patient: updated as before
    same = condition_resource(first.pk, "I10", "高血压", id=made["id"], note=[{"text": "复查"}])
    assert fhir.call("PUT", f"/Condition/{made['id']}", same)[0] == 200


def test_a_report_dated_in_the_future_is_refused(fhir: Fhir) -> None:
    """A DiagnosticReport dated in 2030 was stored, while its results and an HL7 report
    (OBR-7) dated so are refused."""
    from careloop.clinical.models import DiagnosticReport

    patient = enrol(fhir)
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "血脂"},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2030-01-01T09:00:00+08:00",
    }
    status, outcome, _ = fhir.call("POST", "/DiagnosticReport", report)
    assert status == 422, outcome
    assert outcome["issue"][0]["expression"] == ["DiagnosticReport.effectiveDateTime"]
    today = report | {"effectiveDateTime": "2026-11-20T09:00:00+08:00"}
    status, outcome, _ = fhir.call(
        "POST", "/DiagnosticReport", today | {"issued": "2030-01-01T09:00:00+08:00"}
    )
    assert status == 422 and outcome["issue"][0]["expression"] == ["DiagnosticReport.issued"]
    status, made, _ = fhir.call("POST", "/DiagnosticReport", today)
    assert status == 201, made
    status, outcome, _ = fhir.call("PUT", f"/DiagnosticReport/{made['id']}", report | made)
    assert status == 200  # made's own date: unchanged
    later = made | {"effectiveDateTime": "2030-01-01T09:00:00+08:00"}
    assert fhir.call("PUT", f"/DiagnosticReport/{made['id']}", later)[0] == 422
    assert DiagnosticReport.objects.get().effective_at.year == 2026


def test_a_conditional_reference_names_the_patient_its_bundle_enrols(fhir: Fhir) -> None:
    """A laboratory's transaction: the Patient (created if none has its record number) and
    results naming it by "Patient?identifier=…". The first time, when the patient was new,
    the whole transaction was refused: "no Patient matches" (only stored patients were
    searched)."""
    mrn = "urn:careloop:sid:mrn:LIS9"
    query = f"identifier={mrn}|A1001"
    patient = patient_resource(identifier=[{"system": mrn, "value": "A1001"}])
    result = glucose("0", {"value": 5.2, "unit": "mmol/L"}) | {
        "subject": {"reference": f"Patient?{query}"}
    }
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": result, "request": {"method": "POST", "url": "Observation"}},
            {
                "resource": patient,  # no fullUrl: named by its identifier alone
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": query},
            },
        ],
    }
    status, body, _ = fhir.call("POST", "/", transaction)
    assert status == 200, body
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    enrolled = Patient.objects.get()
    assert Observation.objects.get().patient_id == enrolled.pk
    # sent again: the patient found, a second result stored under them
    status, body, _ = fhir.call("POST", "/", transaction)
    assert status == 200, body
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "200 OK"]
    assert Patient.objects.count() == 1
    assert list(Observation.objects.values_list("patient_id", flat=True)) == [enrolled.pk] * 2
    # in a batch, an earlier entry's new patient
    other = patient_resource(
        identifier=[
            {"system": mrn, "value": "A1002"},
            {"system": RESIDENT, "value": valid_id(date(1970, 5, 6), male=False)},
        ],
        gender="female",
        birthDate="1970-05-06",
        telecom=[{"system": "phone", "value": "13911114444"}],
    )
    later = result | {"subject": {"reference": f"Patient?identifier={mrn}|A1002"}}
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": other, "request": {"method": "POST", "url": "Patient"}},
            {"resource": later, "request": {"method": "POST", "url": "Observation"}},
        ],
    }
    status, body, _ = fhir.call("POST", "/", batch)
    assert status == 200, body
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    second = Patient.objects.exclude(pk=enrolled.pk).get()
    assert Observation.objects.filter(patient=second).count() == 1


def test_a_name_search_matches_in_any_case(fhir: Fhir, carol: Any) -> None:
    """FHIR's string search ignores case: Patient?name=zhang found no "Zhang Wei", and
    Questionnaire?name=GAD (the start of its name) no gad7."""
    from careloop.questionnaires.services import load_pack

    load_pack()
    patient = patient_resource(name=[{"family": "Zhang", "given": ["Wei"]}])
    status, made, _ = fhir.call("POST", "/Patient", patient)
    assert status == 201, made
    for query in ("zhang", "WEI", "wei zhang"):
        status, bundle, _ = fhir.call("GET", f"/Patient?name={quote(query)}")
        assert status == 200 and bundle["total"] == 1, query
    assert fhir.call("GET", "/Patient?name=li")[1]["total"] == 0
    status, bundle, _ = fhir.call("GET", "/Questionnaire?name=GAD")
    assert status == 200, bundle
    assert [e["resource"]["name"] for e in bundle["entry"]] == ["gad7"]
    assert fhir.call("GET", "/Questionnaire?name=tcm_constitution")[1]["total"] == 1


def test_a_search_in_a_batch_keeps_its_count_and_tells_the_total(fhir: Fhir) -> None:
    """A batch's GET Observation?patient=…&_count=1 (the latest result) answered up to 200
    results, its _count ignored, and said total 200 when there were thousands (the page's
    length); now a page as a search by GET gives, with its total and next link."""
    patient = enrol(fhir)
    for value in (5.1, 5.2, 5.3):
        status, body, _ = fhir.call("POST", "/Observation", glucose(patient, {"value": value}))
        assert status == 201, body
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": f"Observation?patient={patient}&_count=1"}}],
    }
    status, body, _ = fhir.call("POST", "/", batch)
    assert status == 200, body
    page = body["entry"][0]["resource"]
    assert page["total"] == 3
    assert [e["resource"]["valueQuantity"]["value"] for e in page["entry"]] == [5.3]
    [next_url] = [link["url"] for link in page["link"] if link["relation"] == "next"]
    status, following, _ = fhir.call("GET", next_url.split("/fhir/R4", 1)[1])
    assert status == 200
    assert [e["resource"]["valueQuantity"]["value"] for e in following["entry"]] == [5.2]
    batch["entry"][0]["request"]["url"] = f"Observation?patient={patient}"
    page = fhir.call("POST", "/", batch)[1]["entry"][0]["resource"]
    assert page["total"] == 3 and len(page["entry"]) == 3


def test_the_version_a_create_answers_is_the_one_an_update_is_checked_against(
    fhir: Fhir,
) -> None:
    """Create, then update with If-Match the ETag the create answered: refused 412 for a
    result, a visit or a report sent with local times (+08:00), whose created version was
    a digest of the times as sent and every later read's of the times in UTC."""
    patient = enrol(fhir)
    visit = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{patient}"},
        "period": {"start": "2026-11-20T09:00:00+08:00"},
    }
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "血糖"},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2026-11-20T09:00:00+08:00",
        "issued": "2026-11-20T10:00:00+08:00",
    }
    result = glucose(patient, {"value": 5.2, "unit": "mmol/L"})
    for resource in (result, visit, report):
        kind = resource["resourceType"]
        status, made, headers = fhir.call("POST", f"/{kind}", resource)
        assert status == 201, made
        _status, read, read_headers = fhir.call("GET", f"/{kind}/{made['id']}")
        assert headers["ETag"] == read_headers["ETag"], kind
        assert made["meta"]["versionId"] == read["meta"]["versionId"], kind
        changed = resource | {"id": made["id"], "status": "amended"}
        if kind == "Encounter":
            changed["status"] = "cancelled"
        status, body, _ = fhir.call(
            "PUT", f"/{kind}/{made['id']}", changed, headers={"If-Match": headers["ETag"]}
        )
        assert status == 200, (kind, body)


def test_every_type_is_searched_by_id(fhir: Fhir) -> None:
    """_id is a search parameter of every resource type; on any but Patient it was ignored
    with a warning, so Observation?_id=5 answered every result the token may read."""
    patient = enrol(fhir)
    made = [
        fhir.call("POST", "/Observation", glucose(patient, {"value": v}))[1]["id"]
        for v in (5.1, 5.2, 5.3)
    ]
    status, bundle, _ = fhir.call("GET", f"/Observation?_id={made[0]},{made[2]}")
    assert status == 200
    assert sorted(e["resource"]["id"] for e in bundle["entry"]) == sorted([made[0], made[2]])
    assert bundle["total"] == 2
    assert fhir.call("GET", f"/Observation?_id={made[1]}&patient={patient}")[1]["total"] == 1
    assert fhir.call("GET", "/Condition?_id=999999")[1]["total"] == 0
    statement = fhir.call("GET", "/metadata")[1]
    for resource in statement["rest"][0]["resource"]:
        assert "_id" in [p["name"] for p in resource["searchParam"]], resource["type"]


def test_a_format_other_than_json_is_refused_on_every_interaction(fhir: Fhir) -> None:
    """A read with _format=xml, or Accept: application/fhir+xml, was answered with JSON as if
    XML had been served (a search refused _format=xml with 406)."""
    patient = enrol(fhir)
    for path, headers in (
        (f"/Patient/{patient}?_format=xml", {}),
        (f"/Patient/{patient}", {"Accept": "application/fhir+xml"}),
        ("/Patient", {"Accept": "application/fhir+xml"}),
    ):
        status, outcome, _ = fhir.call("GET", path, headers=headers)
        assert status == 406 and outcome["resourceType"] == "OperationOutcome", path
    for accept in (
        "application/fhir+json",
        "application/fhir+json; fhirVersion=4.0",
        "application/fhir+xml;q=0.9, application/json;q=0.8",
        "*/*",
    ):
        assert fhir.call("GET", f"/Patient/{patient}", headers={"Accept": accept})[0] == 200
    assert fhir.call("GET", f"/Patient/{patient}?_format=json")[0] == 200


def test_the_capability_statement_is_refused_in_a_format_other_than_json(fhir: Fhir) -> None:
    """GET metadata?_format=xml (or Accept: application/fhir+xml alone) was answered 200 with
    JSON, when every other interaction answers 406 to a format CareLoop does not serve."""
    public = Fhir(fhir.base.removesuffix("/fhir/R4"), None)
    for path, headers in (
        ("/metadata?_format=xml", {}),
        ("/metadata?_format=application/fhir%2Bxml", {}),
        ("/metadata", {"Accept": "application/fhir+xml"}),
    ):
        status, outcome, _ = public.call("GET", path, headers=headers)
        assert status == 406 and outcome["resourceType"] == "OperationOutcome", path
    for path, headers in (
        ("/metadata", {}),
        ("/metadata?_format=json", {}),
        ("/metadata", {"Accept": "application/fhir+json"}),
        ("/metadata", {"Accept": "application/fhir+xml;q=0.9, application/json;q=0.8"}),
    ):
        status, statement, _ = public.call("GET", path, headers=headers)
        assert status == 200 and statement["resourceType"] == "CapabilityStatement", path


def test_a_subject_of_another_type_names_no_patient(fhir: Fhir) -> None:
    """Observation?subject=Group/5 answered Patient/5's results (the id was read whatever
    type the reference named)."""
    patient = enrol(fhir)
    assert fhir.call("POST", "/Observation", glucose(patient, {"value": 5.1}))[0] == 201
    for subject in (f"Patient/{patient}", patient, f"{fhir.base}/Patient/{patient}"):
        assert fhir.call("GET", f"/Observation?subject={subject}")[1]["total"] == 1, subject
    for subject in (f"Group/{patient}", f"Device/{patient}"):
        status, bundle, _ = fhir.call("GET", f"/Observation?subject={subject}")
        assert status == 200 and bundle["total"] == 0, subject


def test_a_date_searched_with_an_unescaped_offset_is_read_as_sent(fhir: Fhir) -> None:
    """date=ge2026-11-23T07:00:00+08:00 written into the URL as is: its "+" arrives as a
    space, and the search was refused 400 as not a date."""
    patient = enrol(fhir)  # glucose() is at 2026-11-23T08:00:00+08:00
    assert fhir.call("POST", "/Observation", glucose(patient, {"value": 5.1}))[0] == 201
    for when, found in (("07:00:00", 1), ("09:00", 0)):
        for offset in ("+08:00", "%2B08:00"):
            status, bundle, _ = fhir.call(
                "GET", f"/Observation?patient={patient}&date=ge2026-11-23T{when}{offset}"
            )
            assert status == 200, bundle
            assert bundle["total"] == found, (when, offset)
