"""Resource versions over FHIR: meta.versionId, ETag, If-Match, vread."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from careloop.accounts.tokens import do_create_token
from careloop.clinical.models import Observation
from tests.test_fhir import Fhir, observation, patient_resource


@pytest.fixture
def client(live_server: Any, carol: Any) -> Fhir:
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


@pytest.fixture
def glucose(client: Fhir) -> str:
    patient_id = client.call("POST", "/Patient", patient_resource())[1]["id"]
    status, made, _ = client.call(
        "POST", "/Observation", observation(f"Patient/{patient_id}", "14749-6", 5.2, "mmol/L")
    )
    assert status == 201
    return str(made["id"])


def test_a_read_names_its_version_and_an_update_of_a_stale_one_is_refused(
    client: Fhir, glucose: str
) -> None:
    status, first, headers = client.call("GET", f"/Observation/{glucose}")
    version = first["meta"]["versionId"]
    assert status == 200 and headers["ETag"] == f'W/"{version}"'
    assert client.call("GET", f"/Observation/{glucose}")[1]["meta"]["versionId"] == version
    found = client.call("GET", f"/Observation?_id={glucose}&code=14749-6")[1]
    assert found["entry"][0]["resource"]["meta"]["versionId"] == version

    corrected = dict(first, valueQuantity=dict(first["valueQuantity"], value=3.1))
    del corrected["meta"]
    status, updated, headers = client.call(
        "PUT", f"/Observation/{glucose}", corrected, headers={"If-Match": f'W/"{version}"'}
    )
    assert status == 200
    newer = updated["meta"]["versionId"]
    assert newer != version and headers["ETag"] == f'W/"{newer}"'

    # A second client still holding the first version: refused, the value kept.
    stale = dict(corrected, valueQuantity=dict(first["valueQuantity"], value=9.9))
    status, body, _ = client.call(
        "PUT", f"/Observation/{glucose}", stale, headers={"If-Match": f'W/"{version}"'}
    )
    assert status == 412 and body["issue"][0]["code"] == "conflict"
    assert newer in body["issue"][0]["diagnostics"]
    assert Observation.objects.get(pk=glucose).value == 3.1

    # "*" matches whatever version is there; a list matches any of its versions.
    for header in ("*", f'W/"{version}", W/"{newer}"'):
        status, again, _ = client.call(
            "PUT", f"/Observation/{glucose}", corrected, headers={"If-Match": header}
        )
        assert status == 200 and again["meta"]["versionId"] == newer

    assert client.call("GET", f"/Observation/{glucose}/_history/{newer}")[0] == 200
    status, body, _ = client.call("GET", f"/Observation/{glucose}/_history/{version}")
    assert status == 404 and newer in body["issue"][0]["diagnostics"]

    # A change by any other path (here straight in the database) is a new version too.
    Observation.objects.filter(pk=glucose).update(value=4.0)
    assert client.call("GET", f"/Observation/{glucose}")[1]["meta"]["versionId"] != newer


def test_a_transaction_with_a_stale_if_match_changes_nothing(client: Fhir, glucose: str) -> None:
    current = client.call("GET", f"/Observation/{glucose}")[1]
    changed = dict(current, valueQuantity=dict(current["valueQuantity"], value=2.8))
    del changed["meta"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "request": {"method": "PUT", "url": f"Observation/{glucose}", "ifMatch": 'W/"0"'},
                "resource": changed,
            }
        ],
    }
    status, body, _ = client.call("POST", "", bundle)
    assert status == 412 and "entry 0" in body["issue"][0]["diagnostics"]
    assert Observation.objects.get(pk=glucose).value == 5.2
    bundle["entry"][0]["request"]["ifMatch"] = current["meta"]["versionId"]
    status, body, _ = client.call("POST", "", bundle)
    assert status == 200 and body["entry"][0]["response"]["status"] == "200 OK"
    assert Observation.objects.get(pk=glucose).value == 2.8


def _sent(client: Fhir, method: str, path: str, body: Any, prefer: str) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(
        client.base + path, data=json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/fhir+json")
    request.add_header("Authorization", f"Bearer {client.token}")
    request.add_header("Prefer", prefer)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read(), response.headers


def test_a_write_answers_as_prefer_return_asks(client: Fhir) -> None:
    """``Prefer: return=minimal`` and ``return=OperationOutcome`` were ignored: the resource
    was always sent back (FHIR: servers SHOULD honour the header)."""
    patient_id = client.call("POST", "/Patient", patient_resource())[1]["id"]
    glucose = observation(f"Patient/{patient_id}", "14749-6", 5.2, "mmol/L")
    status, body, headers = _sent(client, "POST", "/Observation", glucose, "return=minimal")
    assert status == 201 and body == b""
    made = Observation.objects.get()
    version = headers["ETag"].removeprefix('W/"').removesuffix('"')
    assert headers["Location"].endswith(f"/Observation/{made.pk}/_history/{version}")
    assert client.call("GET", f"/Observation/{made.pk}")[2]["ETag"] == headers["ETag"]

    corrected = dict(glucose, id=str(made.pk), valueQuantity={"value": 5.9, "unit": "mmol/L"})
    status, body, headers = _sent(
        client, "PUT", f"/Observation/{made.pk}", corrected, "return=OperationOutcome"
    )
    answer = json.loads(body)
    assert status == 200 and answer["resourceType"] == "OperationOutcome", answer
    assert answer["issue"][0]["severity"] == "information"
    assert f"Observation/{made.pk} updated" in answer["issue"][0]["diagnostics"]
    made.refresh_from_db()
    assert made.value == 5.9

    status, body, _ = _sent(
        client, "PUT", f"/Observation/{made.pk}", corrected, "return=representation"
    )
    assert status == 200 and json.loads(body)["valueQuantity"]["value"] == 5.9
