"""A FHIR panel (a blood pressure: LOINC 85354-9 with its systolic and diastolic as
``component``s, as the FHIR vital-signs profile sends it): each component stored, graded and
read by the rules as a result of its own, the panel read back with its components."""

from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.observation import Observation as FhirObservation

from careloop.accounts.tokens import do_create_token
from careloop.clinical.models import Observation
from careloop.rules.models import RiskAssessment, RuleFiring
from careloop.rules.pack import load_pack
from tests.test_fhir import LOINC, Fhir, observation, patient_resource

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fhir(live_server: Any, carol: Any) -> Fhir:
    _, token = do_create_token(carol)
    return Fhir(live_server.url, token)


def component(code: str, value: float) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {
            "value": value,
            "unit": "mmHg",
            "system": "http://unitsofmeasure.org",
            "code": "mm[Hg]",
        },
    }


def blood_pressure(patient_ref: str, systolic: float, diastolic: float) -> dict[str, Any]:
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
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}], "text": "血压"},
        "subject": {"reference": patient_ref},
        # Now: the rules look at readings of the last three days.
        "effectiveDateTime": timezone.now().replace(microsecond=0).isoformat(),
        "component": [component("8480-6", systolic), component("8462-4", diastolic)],
    }


def test_a_blood_pressure_panels_values_are_stored_graded_and_read_back(fhir: Fhir) -> None:
    load_pack()
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    ref = f"Patient/{patient_id}"
    status, panel, _ = fhir.call("POST", "/Observation", blood_pressure(ref, 186, 112))
    assert status == 201, panel
    FhirObservation.model_validate(panel)
    assert "valueString" not in panel and "valueQuantity" not in panel
    systolic, diastolic = panel["component"]
    assert systolic["code"]["coding"][0]["code"] == "8480-6"
    assert systolic["valueQuantity"]["value"] == 186
    assert diastolic["valueQuantity"] == {
        "value": 112,
        "unit": "mmHg",
        "system": "http://unitsofmeasure.org",
        "code": "mm[Hg]",
    }
    assert systolic["interpretation"][0]["coding"][0]["code"] in ("H", "HH")
    assert diastolic["interpretation"][0]["coding"][0]["code"] in ("H", "HH")

    stored = Observation.objects.get(pk=panel["id"])
    assert stored.display_value == "186/112 mmHg"  # as the patient's record shows it
    rows = {o.code: o for o in Observation.objects.filter(panel=stored)}
    assert (rows["8480-6"].value, rows["8462-4"].value) == (186, 112)
    assert rows["8480-6"].interpretation in ("H", "HH")

    # Searched by the component's code, as a result of its own, naming its panel.
    found = fhir.call("GET", f"/Observation?patient={patient_id}&code={LOINC}|8480-6")[1]
    [entry] = found["entry"]
    assert entry["resource"]["valueQuantity"]["value"] == 186
    assert entry["resource"]["derivedFrom"] == [{"reference": f"Observation/{panel['id']}"}]
    status, read, _ = fhir.call("GET", f"/Observation/{panel['id']}")
    assert status == 200 and [c["valueQuantity"]["value"] for c in read["component"]] == [
        186,
        112,
    ]
    # The risk models and the default rules read the pressures as sent alone.
    assessment = RiskAssessment.objects.get(patient_id=patient_id, model="bp-grade")
    assert assessment.category == "3级高血压"
    firing = RuleFiring.objects.get(patient_id=patient_id)
    assert firing.rule.code == "bp-urgent-referral" and firing.alert is not None


def test_a_wrong_component_is_named_and_nothing_is_stored(fhir: Fhir) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    resource = blood_pressure(f"Patient/{patient_id}", 138, 88)
    resource["component"][1]["code"]["coding"][0]["code"] = "8462-5"  # a wrong check digit
    status, body, _ = fhir.call("POST", "/Observation", resource)
    assert status == 422, body
    assert body["issue"][0]["expression"] == ["Observation.component[1].code.coding"]
    assert "8462-5" in body["issue"][0]["diagnostics"]
    assert not Observation.objects.exists()


def test_a_panel_is_corrected_by_update_component_by_component(fhir: Fhir) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    ref = f"Patient/{patient_id}"
    panel = fhir.call("POST", "/Observation", blood_pressure(ref, 138, 88))[1]
    corrected = {**blood_pressure(ref, 138, 96), "id": panel["id"], "status": "corrected"}
    status, body, _ = fhir.call("PUT", f"/Observation/{panel['id']}", corrected)
    assert status == 200, body
    assert [c["valueQuantity"]["value"] for c in body["component"]] == [138, 96]
    diastolic = Observation.objects.get(panel_id=panel["id"], code="8462-4")
    assert (diastolic.value, diastolic.status) == (96, "corrected")
    assert Observation.objects.get(pk=panel["id"]).display_value == "138/96 mmHg"
    assert Observation.objects.count() == 3  # corrected in place, none added

    added = {**corrected, "component": [*corrected["component"], component("8867-4", 72)]}
    status, body, _ = fhir.call("PUT", f"/Observation/{panel['id']}", added)
    assert status == 422 and body["issue"][0]["expression"] == ["Observation.component[2].code"]


def test_a_blood_pressure_sent_as_text_is_read_as_its_two_pressures(fhir: Fhir) -> None:
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    resource = blood_pressure(f"Patient/{patient_id}", 0, 0)
    del resource["component"]
    resource["valueString"] = "158/96 mmHg"
    status, panel, _ = fhir.call("POST", "/Observation", resource)
    assert status == 201, panel
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [158, 96]
    assert [c["code"]["coding"][0]["code"] for c in panel["component"]] == ["8480-6", "8462-4"]
    assert Observation.objects.get(pk=panel["id"]).value_text == "158/96 mmHg"  # as sent
    systolic = Observation.objects.get(code="8480-6")
    assert systolic.panel_id == int(panel["id"]) and systolic.interpretation == "H"


def test_a_blood_pressure_stored_as_text_alone_is_corrected_by_its_text(fhir: Fhir) -> None:
    """A blood pressure kept as text without its pressures (stored before they were read, or
    by an HL7 exam) corrected by a valueString: the value corrected, as before; not refused
    for components the client never sent."""
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    resource = blood_pressure(f"Patient/{patient_id}", 0, 0)
    del resource["component"]
    stored = Observation.objects.create(
        patient_id=patient_id,
        code="85354-9",
        code_system=LOINC,
        name="血压",
        value_type="text",
        value_text="138/88",
        effective_at=timezone.now().replace(microsecond=0),
        source="hl7",
    )
    corrected = {**resource, "id": str(stored.pk), "status": "corrected"}
    corrected["valueString"] = "150/95"
    status, body, _ = fhir.call("PUT", f"/Observation/{stored.pk}", corrected)
    assert status == 200, body
    stored.refresh_from_db()
    assert (stored.value_text, stored.status) == ("150/95", "corrected")


def test_a_report_naming_a_panel_has_its_components_too(fhir: Fhir) -> None:
    """A DiagnosticReport whose result names a blood pressure panel: the panel's pressures,
    graded, are the report's results too (the panel's own row is text, never flagged, so the
    report showed a 3级 blood pressure as nothing abnormal)."""
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    ref = f"Patient/{patient_id}"
    panel = fhir.call("POST", "/Observation", blood_pressure(ref, 186, 112))[1]
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "体检"},
        "subject": {"reference": ref},
        "effectiveDateTime": timezone.now().replace(microsecond=0).isoformat(),
        "result": [{"reference": f"Observation/{panel['id']}"}],
    }
    status, body, _ = fhir.call("POST", "/DiagnosticReport", report)
    assert status == 201, body
    rows = Observation.objects.filter(report_id=body["id"])
    assert sorted(rows.values_list("code", flat=True)) == ["8462-4", "8480-6", "85354-9"]
    assert {o.interpretation for o in rows if o.code != "85354-9"} <= {"H", "HH"}
    # Updated naming it again: the same three, none lost.
    report["id"] = body["id"]
    status, body, _ = fhir.call("PUT", f"/DiagnosticReport/{body['id']}", report)
    assert status == 200, body
    assert Observation.objects.filter(report_id=body["id"]).count() == 3


def test_a_component_corrected_alone_is_shown_so_by_its_panel(fhir: Fhir) -> None:
    """A panel's component corrected by an update of its own (PUT Observation/<systolic>):
    the panel's value as the record shows it follows (it kept the old 138/88)."""
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    panel = fhir.call("POST", "/Observation", blood_pressure(f"Patient/{patient_id}", 138, 88))[1]
    systolic = Observation.objects.get(panel_id=panel["id"], code="8480-6")
    status, resource, _ = fhir.call("GET", f"/Observation/{systolic.pk}")
    resource["valueQuantity"]["value"] = 170
    resource["status"] = "corrected"
    status, body, _ = fhir.call("PUT", f"/Observation/{systolic.pk}", resource)
    assert status == 200, body
    assert Observation.objects.get(pk=panel["id"]).display_value == "170/88 mmHg"
    read = fhir.call("GET", f"/Observation/{panel['id']}")[1]
    assert [c["valueQuantity"]["value"] for c in read["component"]] == [170, 88]


def test_a_panel_corrected_is_read_by_the_risk_models_once_whole(fhir: Fhir) -> None:
    """A panel corrected by update (120/80 → 150/105): the risk models and rules read the
    corrected pair once, not the systolic corrected beside the diastolic not yet (150/80, a
    1级 blood pressure the patient never had, kept in the assessments' history)."""
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    ref = f"Patient/{patient_id}"
    panel = fhir.call("POST", "/Observation", blood_pressure(ref, 120, 80))[1]
    corrected = {**blood_pressure(ref, 150, 105), "id": panel["id"], "status": "corrected"}
    status, body, _ = fhir.call("PUT", f"/Observation/{panel['id']}", corrected)
    assert status == 200, body
    grades = RiskAssessment.objects.filter(patient_id=patient_id, model="bp-grade")
    categories = list(grades.order_by("id").values_list("category", flat=True))
    assert categories[-1] == "2级高血压"
    assert "1级高血压" not in categories, categories


def test_a_panel_updated_with_one_component_shows_both(fhir: Fhir) -> None:
    """A panel's update naming only its diastolic (138/88 → diastolic 96): the systolic is
    kept, and the panel shows 138/96 (it showed 96 mmHg, the systolic gone from its value)."""
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    ref = f"Patient/{patient_id}"
    panel = fhir.call("POST", "/Observation", blood_pressure(ref, 138, 88))[1]
    corrected = {**blood_pressure(ref, 138, 96), "id": panel["id"], "status": "corrected"}
    corrected["component"] = corrected["component"][1:]
    status, body, _ = fhir.call("PUT", f"/Observation/{panel['id']}", corrected)
    assert status == 200, body
    assert [c["valueQuantity"]["value"] for c in body["component"]] == [138, 96]
    assert Observation.objects.get(pk=panel["id"]).display_value == "138/96 mmHg"


def test_values_are_served_with_their_ucum_code_as_the_vital_signs_profile_requires(
    fhir: Fhir,
) -> None:
    """A blood pressure sent with its UCUM code (mm[Hg]) came back with the unit text alone:
    the FHIR vital-signs profile requires valueQuantity.system and code, so a client checking
    it refused CareLoop's own answer."""
    patient_id = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    ref = f"Patient/{patient_id}"
    status, panel, _ = fhir.call("POST", "/Observation", blood_pressure(ref, 128, 82))
    assert status == 201, panel
    panel = fhir.call("GET", f"/Observation/{panel['id']}")[1]
    for part in panel["component"]:
        quantity = part["valueQuantity"]
        assert (quantity["system"], quantity["code"]) == ("http://unitsofmeasure.org", "mm[Hg]")
    weight = observation(ref, "29463-7", 61.5, "公斤")
    made = fhir.call("POST", "/Observation", weight)[1]
    assert made["valueQuantity"] == {
        "value": 61.5,
        "unit": "公斤",
        "system": "http://unitsofmeasure.org",
        "code": "kg",
    }
    # Laboratory units too: enzymes, INR, pH, thyroid hormones.
    for code, value, unit, ucum in (
        ("1742-6", 35, "IU/L", "U/L"),
        ("6301-6", 2.4, "INR", "{INR}"),
        ("2744-1", 7.35, "pH", "[pH]"),
        ("3016-3", 2.1, "uIU/mL", "m[IU]/L"),
    ):
        served = fhir.call("POST", "/Observation", observation(ref, code, value, unit))[1]
        assert served["valueQuantity"]["code"] == ucum, served
    # A unit CareLoop does not know is served as sent, with no code made up for it.
    odd = fhir.call("POST", "/Observation", observation(ref, "8867-4", 72, "次/30秒"))[1]
    assert odd["valueQuantity"] == {"value": 72, "unit": "次/30秒"}
