"""A NUL character in a query parameter is refused with 400 naming the parameter, on the
API, on FHIR and on the staff pages (PostgreSQL text cannot hold it: it was a 500)."""

from typing import Any

import pytest
from django.test import Client

from careloop.accounts.tokens import do_create_token
from tests.test_patients_web import logged_in

pytestmark = pytest.mark.django_db


def _bearer(user: Any) -> dict[str, str]:
    _, token = do_create_token(user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_the_api_names_the_parameter_holding_nul(bob: Any) -> None:
    client = Client()
    refused = client.get("/api/v1/metrics/dashboard", {"org": "\x00x"}, **_bearer(bob))
    assert refused.status_code == 400
    body = refused.json()
    assert [e["field"] for e in body["errors"]] == ["org"]
    assert "NUL" in body["detail"]
    answered = client.get("/api/v1/metrics/dashboard", {"org": ""}, **_bearer(bob))
    assert answered.status_code == 200


def test_fhir_answers_nul_with_an_operation_outcome(carol: Any) -> None:
    refused = Client().get("/fhir/R4/Patient", {"identifier": "a\x00b"}, **_bearer(carol))
    assert refused.status_code == 400
    assert refused["Content-Type"].startswith("application/fhir+json")
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"].startswith("identifier:")


def test_a_staff_page_refuses_nul_in_its_search(carol: Any) -> None:
    refused = logged_in(carol).get("/patients/", {"q": "王\x00"})
    assert refused.status_code == 400
    assert refused.content.decode().startswith("q:")
    assert logged_in(carol).get("/patients/", {"q": "王"}).status_code == 200


def test_a_json_body_with_nul_is_refused_before_anything_is_stored(alice: Any, api_as: Any) -> None:
    from careloop.patients.models import Patient

    before = Patient.objects.count()
    refused = api_as(alice).post("/api/v1/patients", {"name": "张\x00三"})
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["body"]
    assert Patient.objects.count() == before
    # "\\u0000" in the JSON is the text backslash-u-0000, not NUL: it passes the guard
    # (and is then judged as a name like any other)
    kept = api_as(alice).post("/api/v1/patients", {"name": "张\\u0000三"})
    assert kept.status_code in (201, 422), kept.content
    assert "body" not in [e["field"] for e in kept.json().get("errors", [])]


def test_fhir_refuses_a_resource_with_nul(carol: Any) -> None:
    body = b'{"resourceType": "Patient", "name": [{"text": "\\u0000"}]}'
    refused = Client().post(
        "/fhir/R4/Patient", body, content_type="application/fhir+json", **_bearer(carol)
    )
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["diagnostics"].startswith("body:")


def test_a_body_over_the_size_limit_is_a_413_in_each_parts_shape(carol: Any, settings: Any) -> None:
    """Read by this middleware, before the user is known, a body over the limit raised
    RequestDataTooBig; Django's 400 page then failed to render (no request.user): a 500."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = '{"resourceType": "Patient", "name": [{"text": "' + "x" * 2048 + '"}]}'
    client = Client(raise_request_exception=False)
    fhir = client.post("/fhir/R4/Patient", big, "application/fhir+json", **_bearer(carol))
    assert fhir.status_code == 413 and fhir.json()["resourceType"] == "OperationOutcome"
    assert "1 KB" in fhir.json()["issue"][0]["diagnostics"]
    api = client.post("/api/v1/patients", big, "application/json", **_bearer(carol))
    assert api.status_code == 413 and "1 KB" in api.json()["detail"]


def test_fhir_json_nested_too_deeply_is_a_400(carol: Any) -> None:
    """json.loads raised RecursionError on [[[…]]] 100,000 deep: a 500."""
    deep = "[" * 100_000 + "]" * 100_000
    refused = Client(raise_request_exception=False).post(
        "/fhir/R4/Patient", deep, "application/fhir+json", **_bearer(carol)
    )
    assert refused.status_code == 400
    assert "nested too deeply" in refused.json()["issue"][0]["diagnostics"]
    # Valid JSON, extensions of extensions 200 deep: validating it exceeded Python's limit.
    nested = '{"url": "x", "extension": [' * 200 + '{"url": "y", "valueString": "z"}' + "]}" * 200
    patient = '{"resourceType": "Patient", "extension": [' + nested + "]}"
    for path, body in (
        ("/fhir/R4/Patient", patient),
        ("/fhir/R4", '{"resourceType": "Bundle", "type": "batch", "entry": [' + patient + "]}"),
    ):
        refused = Client(raise_request_exception=False).post(
            path, body, "application/fhir+json", **_bearer(carol)
        )
        assert refused.status_code == 400, path
        assert "more than 64 levels" in refused.json()["issue"][0]["diagnostics"]
