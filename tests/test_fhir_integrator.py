"""A hospital integrator's FHIR client against /fhir/R4, as such clients write requests:
quantities with UCUM codes beside words for people, Bundles carrying every resource type
CareLoop takes, and the errors they meet."""

from typing import Any

import pytest

from careloop.accounts.tokens import do_create_token
from careloop.clinical.models import Observation
from careloop.followup.models import Alert
from tests.test_fhir import LOINC, Fhir, patient_resource

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
