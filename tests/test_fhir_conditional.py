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
    assert headers["Location"].endswith(f"/Patient/{made['id']}")
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
                    "ifNoneExist": f"_id={shared.pk}",
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
