"""Conditional create over FHIR: ``If-None-Exist`` and a Bundle entry's ``ifNoneExist``."""

from __future__ import annotations

from typing import Any

import pytest

from careloop.accounts.tokens import do_create_token
from careloop.clinical.models import Condition, Observation
from careloop.interop.models import InboundMessage
from careloop.patients.models import Patient
from tests.test_fhir import (
    RESIDENT,
    Fhir,
    condition_resource,
    observation,
    patient_resource,
    shared_read_only,
    transaction_bundle,
)


@pytest.fixture
def client(live_server: Any, carol: Any) -> Fhir:
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


def _by_identifier(resource: dict[str, Any]) -> str:
    return f"identifier={RESIDENT}|{resource['identifier'][0]['value']}"


def test_a_patient_posted_again_with_if_none_exist_is_answered_with_the_stored_one(
    client: Fhir,
) -> None:
    person = patient_resource()
    header = {"If-None-Exist": _by_identifier(person)}
    status, made, _ = client.call("POST", "/Patient", person, headers=header)
    assert status == 201
    status, again, headers = client.call("POST", "/Patient", person, headers=header)
    assert status == 200 and again["id"] == made["id"], again
    assert headers["Location"].endswith(
        f"/Patient/{made['id']}/_history/{made['meta']['versionId']}"
    )
    assert Patient.objects.count() == 1
    assert InboundMessage.objects.filter(status="processed").count() == 2
    # Without the header the same person is still refused as a duplicate.
    assert client.call("POST", "/Patient", person)[0] == 409


def test_a_transaction_sent_twice_finds_its_patient_and_adds_the_new_results(
    client: Fhir,
) -> None:
    bundle = transaction_bundle()
    bundle["entry"][0]["request"]["ifNoneExist"] = _by_identifier(bundle["entry"][0]["resource"])
    status, first, _ = client.call("POST", "", bundle)
    assert status == 200 and first["entry"][0]["response"]["status"] == "201 Created"
    status, second, _ = client.call("POST", "", bundle)
    assert status == 200
    assert second["entry"][0]["response"]["status"] == "200 OK"
    assert second["entry"][0]["response"]["location"] == first["entry"][0]["response"]["location"]
    patient = Patient.objects.get()
    assert Observation.objects.filter(patient=patient).count() == 4  # two per Bundle


def test_an_unknown_search_parameter_is_refused_not_ignored(client: Fhir) -> None:
    bundle = transaction_bundle()
    bundle["entry"][0]["request"]["ifNoneExist"] = "family=周"
    status, body, _ = client.call("POST", "", bundle)
    assert status == 400
    assert "family" in body["issue"][0]["diagnostics"]
    assert "entry 0" in body["issue"][0]["diagnostics"]
    assert not Patient.objects.exists()
    status, body, _ = client.call(
        "POST", "/Patient", patient_resource(), headers={"If-None-Exist": "_count=1"}
    )
    assert status == 400 and "_count" in body["issue"][0]["diagnostics"]


def test_more_than_one_match_is_412_and_stores_nothing(client: Fhir) -> None:
    patient_id = client.call("POST", "/Patient", patient_resource())[1]["id"]
    for _ in range(2):
        assert client.call("POST", "/Condition", condition_resource(patient_id, "I10", "高血压"))[0]
    query = f"patient=Patient/{patient_id}&code=I10"
    status, body, _ = client.call(
        "POST",
        "/Condition",
        condition_resource(patient_id, "I10", "高血压"),
        headers={"If-None-Exist": query},
    )
    assert status == 412 and body["issue"][0]["code"] == "multiple-matches"
    assert Condition.objects.count() == 2
    status, body, _ = client.call(
        "POST",
        "/Condition",
        condition_resource(patient_id, "E11", "2型糖尿病"),
        headers={"If-None-Exist": f"patient=Patient/{patient_id}&code=E11"},
    )
    assert status == 201 and Condition.objects.count() == 3


def test_a_read_only_patient_found_by_a_conditional_create_takes_no_results(
    client: Fhir, hospital: Any, cardiology: Any
) -> None:
    shared = shared_read_only(hospital, cardiology)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "request": {
                    "method": "POST",
                    "url": "Patient",
                    "ifNoneExist": f"identifier=urn:careloop:sid:card|{shared.card_number}",
                },
                "resource": patient_resource(),
            },
            {
                "request": {"method": "POST", "url": "Observation"},
                "resource": observation("urn:uuid:p1", "14749-6", 5.2, "mmol/L"),
            },
        ],
    }
    status, body, _ = client.call("POST", "", bundle)
    assert status == 403, body
    assert not Observation.objects.exists()


def test_a_batch_entry_failing_under_a_found_patients_fullurl_keeps_it_checked(
    client: Fhir, hospital: Any, cardiology: Any
) -> None:
    shared = shared_read_only(hospital, cardiology)
    found = f"identifier=urn:careloop:sid:card|{shared.card_number}"
    person = patient_resource()
    assert client.call("POST", "/Patient", person)[0] == 201
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": found},
                "resource": patient_resource(),
            },
            {  # the same person again: refused when written, after naming urn:uuid:p1
                "fullUrl": "urn:uuid:p1",
                "request": {"method": "POST", "url": "Patient"},
                "resource": person,
            },
            {
                "request": {"method": "POST", "url": "Observation"},
                "resource": observation("urn:uuid:p1", "14749-6", 5.2, "mmol/L"),
            },
        ],
    }
    body = client.call("POST", "", batch)[1]
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["200 OK", "409 Conflict", "403 Forbidden"]
    assert not Observation.objects.filter(patient=shared).exists()


def test_every_search_parameter_a_conditional_create_takes_narrows_it(client: Fhir) -> None:
    patient_id = client.call("POST", "/Patient", patient_resource())[1]["id"]
    hypertension = condition_resource(patient_id, "I10", "高血压", onsetDateTime="2024-03-01")
    assert client.call("POST", "/Condition", hypertension)[0] == 201
    diabetes = condition_resource(patient_id, "E11", "2型糖尿病", onsetDateTime="2020-01-01")
    query = f"patient=Patient/{patient_id}&onset-date=2020-01-01"
    status, made, _ = client.call("POST", "/Condition", diabetes, headers={"If-None-Exist": query})
    assert status == 201 and made["code"]["coding"][0]["code"] == "E11"
    visit = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": "2026-11-01T09:00:00+08:00"},
    }
    assert client.call("POST", "/Encounter", visit)[0] == 201
    stay = dict(visit, **{"class": dict(visit["class"], code="IMP")})
    status, made, _ = client.call(
        "POST", "/Encounter", stay, headers={"If-None-Exist": f"patient={patient_id}&class=IMP"}
    )
    assert status == 201 and made["class"]["code"] == "IMP"
    status, body, _ = client.call(
        "POST", "/Encounter", stay, headers={"If-None-Exist": f"patient={patient_id}&status="}
    )
    assert status == 400 and "status" in body["issue"][0]["diagnostics"]


def test_a_patient_is_found_only_by_an_identifier_of_a_system_careloop_keeps(
    client: Fhir,
) -> None:
    first = patient_resource()
    assert client.call("POST", "/Patient", first)[0] == 201
    number = first["identifier"][0]["value"]
    someone_else = patient_resource(
        name=[{"text": "王芳"}], telecom=[{"system": "phone", "value": "13900001111"}]
    )
    for query in (
        f"identifier=http://other-hospital/mrn|{number}",
        f"identifier={number}",
        "name=%E5%91%A8",
    ):
        status, body, _ = client.call(
            "POST", "/Patient", someone_else, headers={"If-None-Exist": query}
        )
        assert status == 400, (query, body)
    assert Patient.objects.count() == 1


def test_two_entries_with_the_same_if_none_exist_in_a_transaction_are_refused(
    client: Fhir,
) -> None:
    patient_id = client.call("POST", "/Patient", patient_resource())[1]["id"]
    query = f"patient=Patient/{patient_id}&code=I10"
    entry = {
        "request": {"method": "POST", "url": "Condition", "ifNoneExist": query},
        "resource": condition_resource(patient_id, "I10", "高血压"),
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry, entry]}
    status, body, _ = client.call("POST", "", bundle)
    assert status == 400 and "entry 0" in body["issue"][0]["diagnostics"]
    assert not Condition.objects.exists()


def test_a_resource_found_by_a_conditional_create_is_audited_as_read(client: Fhir) -> None:
    from careloop.audit.models import AuditEvent

    person = patient_resource()
    header = {"If-None-Exist": _by_identifier(person)}
    made = client.call("POST", "/Patient", person, headers=header)[1]
    client.call("POST", "/Patient", person, headers=header)
    read = AuditEvent.objects.filter(action="view", object_type="patient", object_id=made["id"])
    assert read.count() == 1


LIS_MRN = "urn:careloop:sid:mrn:LIS9"


def _someone(n: int, *numbers: dict[str, str]) -> dict[str, Any]:
    """A patient of their own (resident ID, name and phone of their own) with ``numbers``."""
    from datetime import date

    from tests.factories import valid_id

    born = date(1960 + n, 3, 1)
    return patient_resource(
        identifier=[{"system": RESIDENT, "value": valid_id(born, male=True)}, *numbers],
        name=[{"text": f"病人{n}"}],
        birthDate=born.isoformat(),
        telecom=[{"system": "phone", "value": f"1390000{n:04d}"}],
    )


def _total(client: Fhir, query: str) -> int:
    from urllib.parse import quote

    status, body, _ = client.call("GET", "/Patient?identifier=" + quote(query))
    assert status == 200, body
    return int(body["total"])


def test_a_record_number_keeps_the_issuer_it_was_sent_with(client: Fhir) -> None:
    from careloop.patients.models import PatientIdentifier

    numbers = [
        {"system": LIS_MRN, "value": "TX-01"},
        {"system": "urn:careloop:sid:exam:PEC2", "value": "E-77"},
        {"system": "urn:careloop:sid:mrn:H1-CARD", "value": "OWN-5"},  # carol's own: as before
    ]
    person = _someone(1, *numbers)
    status, made, _ = client.call("POST", "/Patient", person)
    assert status == 201, made
    stored = {(i.kind, i.system, i.value) for i in PatientIdentifier.objects.all()}
    assert stored == {
        ("mrn", "LIS9", "TX-01"),
        ("exam", "PEC2", "E-77"),
        ("mrn", "H1-CARD", "OWN-5"),
    }
    served = client.call("GET", f"/Patient/{made['id']}")[1]["identifier"]
    assert all(number in served for number in numbers), served
    # Found by the system it was sent with, or by the kind alone; not under another issuer.
    assert _total(client, f"{LIS_MRN}|TX-01") == 1
    assert _total(client, "urn:careloop:sid:mrn|TX-01") == 1
    assert _total(client, "urn:careloop:sid:exam:PEC2|E-77") == 1
    assert _total(client, "urn:careloop:sid:mrn:H1-CARD|TX-01") == 0
    assert _total(client, "urn:careloop:sid:exam:LIS9|TX-01") == 0
    # Sent again: the stored one answers, by the header and by a transaction's ifNoneExist.
    header = {"If-None-Exist": f"identifier={LIS_MRN}|TX-01"}
    status, again, _ = client.call("POST", "/Patient", person, headers=header)
    assert status == 200 and again["id"] == made["id"], again
    bundle = transaction_bundle()
    bundle["entry"][0]["resource"] = person
    bundle["entry"][0]["request"]["ifNoneExist"] = f"identifier={LIS_MRN}|TX-01"
    status, body, _ = client.call("POST", "", bundle)
    assert status == 200, body
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][0]["response"]["location"].startswith(f"Patient/{made['id']}")
    assert Patient.objects.count() == 1


def test_a_record_number_is_a_duplicate_only_under_the_same_issuer(client: Fhir) -> None:
    from careloop.interop.hl7.read import Identifier, PatientData
    from careloop.interop.patients import match_patient
    from careloop.patients.models import PatientIdentifier

    first = client.call("POST", "/Patient", _someone(1, {"system": LIS_MRN, "value": "TX-01"}))
    assert first[0] == 201, first[1]
    status, body, _ = client.call(
        "POST", "/Patient", _someone(2, {"system": LIS_MRN, "value": "tx-01"})
    )
    assert status == 409 and f"Patient/{first[1]['id']}" in body["issue"][0]["diagnostics"]
    for n, system in ((3, "urn:careloop:sid:mrn:LIS8"), (4, "urn:careloop:sid:mrn:H1-CARD")):
        status, body, _ = client.call(
            "POST", "/Patient", _someone(n, {"system": system, "value": "TX-01"})
        )
        assert status == 201, (system, body)
    # As HL7 keeps a record number (PID-3 with its assigning authority): one number.
    hl7 = PatientData(record_numbers=[Identifier("TX-01", "MR", "LIS9")])
    assert str(match_patient(hl7, "OTHER-FACILITY").pk) == first[1]["id"]
    kept_by_hl7 = Patient.objects.get(pk=first[1]["id"])
    PatientIdentifier.objects.create(patient=kept_by_hl7, kind="exam", system="PEC2", value="E-9")
    assert _total(client, "urn:careloop:sid:exam:PEC2|E-9") == 1
    status, body, _ = client.call(
        "POST", "/Patient", _someone(5, {"system": "urn:careloop:sid:exam:PEC2", "value": "E-9"})
    )
    assert status == 409 and body["issue"][0]["code"] == "duplicate"
    long_issuer = "urn:careloop:sid:mrn:" + "X" * 65
    status, body, _ = client.call(
        "POST", "/Patient", _someone(6, {"system": long_issuer, "value": "1"})
    )
    assert status == 422 and "64" in body["issue"][0]["diagnostics"]


def test_an_update_replaces_the_number_of_the_issuer_named_only(client: Fhir) -> None:
    from careloop.patients.models import PatientIdentifier

    own = {"system": "urn:careloop:sid:mrn:H1-CARD", "value": "OWN-5"}
    made = client.call("POST", "/Patient", _someone(1, own, {"system": LIS_MRN, "value": "TX-01"}))[
        1
    ]
    served = client.call("GET", f"/Patient/{made['id']}")[1]
    status, body, _ = client.call("PUT", f"/Patient/{made['id']}", served)  # sent back as served
    assert status == 200, body
    changed = dict(served)
    changed["identifier"] = [
        i if i["system"] != LIS_MRN else {"system": LIS_MRN, "value": "TX-02"}
        for i in served["identifier"]
    ]
    status, body, _ = client.call("PUT", f"/Patient/{made['id']}", changed)
    assert status == 200, body
    stored = {(i.kind, i.system, i.value) for i in PatientIdentifier.objects.all()}
    assert stored == {("mrn", "H1-CARD", "OWN-5"), ("mrn", "LIS9", "TX-02")}
    assert _total(client, f"{LIS_MRN}|TX-01") == 0 and _total(client, f"{LIS_MRN}|TX-02") == 1


def test_an_identifier_search_matches_the_system_and_the_value(client: Fhir) -> None:
    person = _someone(1, {"system": LIS_MRN, "value": "AUD-MRN-001"})
    made = client.call("POST", "/Patient", person)[1]
    resident = person["identifier"][0]["value"]
    assert _total(client, "AUD-MRN-001") == 1  # the value alone: any system
    assert _total(client, "urn:bogus|AUD-MRN-001") == 0
    assert _total(client, "|AUD-MRN-001") == 0  # no system: none of ours
    assert _total(client, f"urn:bogus|{resident}") == 0
    assert _total(client, f"urn:careloop:sid:card|{resident}") == 0
    assert _total(client, f"{RESIDENT}|{resident}") == 1
    assert _total(client, "urn:careloop:sid:mrnx|AUD-MRN-001") == 0
    # An Encounter's visit number likewise.
    visit = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{made['id']}"},
        "period": {"start": "2026-11-20T08:00:00+08:00"},
        "identifier": [{"system": "urn:careloop:sid:visit", "value": "MZ-7"}],
    }
    assert client.call("POST", "/Encounter", visit)[0] == 201

    def visits(query: str) -> int:
        return int(client.call("GET", f"/Encounter?identifier={query}")[1]["total"])

    assert visits("MZ-7") == 1 and visits("urn:careloop:sid:visit|MZ-7") == 1
    assert visits("urn:bogus|MZ-7") == 0 and visits("|MZ-7") == 0
    # A conditional create by a system the visit number is not kept under would never match
    # (and store a copy each time): refused.
    status, body, _ = client.call(
        "POST", "/Encounter", visit, headers={"If-None-Exist": "identifier=urn:his:visit|MZ-7"}
    )
    assert status == 400 and "urn:careloop:sid:visit" in body["issue"][0]["diagnostics"]
    status, found, _ = client.call(
        "POST",
        "/Encounter",
        visit,
        headers={"If-None-Exist": "identifier=urn:careloop:sid:visit|MZ-7"},
    )
    assert status == 200, found


def test_a_condition_written_as_the_search_url_finds_the_stored_resource(client: Fhir) -> None:
    """``If-None-Exist: Patient?identifier=…`` (a search URL, as many senders write it, and
    FHIR's own transaction examples) was refused 400, "Patient?identifier is not a search
    parameter of Patient"."""
    person = patient_resource()
    made = client.call("POST", "/Patient", person)[1]
    for query in (
        f"Patient?{_by_identifier(person)}",
        f"{client.base}/Patient?{_by_identifier(person)}",
    ):
        status, found, _ = client.call("POST", "/Patient", person, headers={"If-None-Exist": query})
        assert status == 200 and found["id"] == made["id"], found
    bundle = transaction_bundle()
    bundle["entry"][0]["request"]["ifNoneExist"] = f"Patient?{_by_identifier(person)}"
    status, body, _ = client.call("POST", "", bundle)
    assert status == 200, body
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][0]["response"]["location"] == f"Patient/{made['id']}"
    assert Patient.objects.count() == 1
    # A search of another type is not this create's condition.
    status, body, _ = client.call(
        "POST",
        "/Patient",
        person,
        headers={"If-None-Exist": f"Observation?{_by_identifier(person)}"},
    )
    assert status == 400 and "Observation" in body["issue"][0]["diagnostics"], body


def test_a_create_with_search_parameters_in_its_url_is_a_conditional_create(
    client: Fhir,
) -> None:
    """fhirpy's ``get_or_create`` and ``resource.create(identifier=…)`` send the condition as
    the URL's query (``POST Observation?patient=…&code=…``): it was ignored, so the result
    was stored again and answered 201 Created."""
    person = patient_resource()
    status, made, _ = client.call("POST", f"/Patient?{_by_identifier(person)}", person)
    assert status == 201
    status, again, _ = client.call(
        "POST", f"/Patient?{_by_identifier(person)}&_format=json", person
    )
    assert status == 200 and again["id"] == made["id"], again
    glucose = observation(f"Patient/{made['id']}", "14749-6", 5.6, "mmol/L")
    query = f"/Observation?patient={made['id']}&code=14749-6&date=2026-11-23T23:40:00%2B08:00"
    assert client.call("POST", query, glucose)[0] == 201
    status, same, _ = client.call("POST", query, glucose)
    assert status == 200, same
    assert Observation.objects.filter(code="14749-6").count() == 1
    # As with the header, a parameter the search does not know is refused, not ignored.
    status, body, _ = client.call("POST", "/Observation?family=Zhou", glucose)
    assert status == 400 and "family" in body["issue"][0]["diagnostics"], body
