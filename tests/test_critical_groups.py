"""The critical values of REFERENCE §4.5 beyond plain thresholds, by every way in: positive
cultures (blood, CSF, bone marrow), a newborn's total bilirubin, and ALT / AST reported as
critical on first occurrence only."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from careloop.accounts.models import Organisation
from careloop.clinical.models import CriticalValueRule, Observation
from careloop.clinical.repeats import REPEAT_NOTE
from careloop.followup.models import Alert
from careloop.interop.mllp import MllpServer
from tests.test_fhir import Fhir, fhir, observation, patient_resource  # noqa: F401
from tests.test_mllp import hospital_org, mllp, msa, process_all  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def oru(control_id: str, *obx: str) -> str:
    segments = [
        "MSH|^~\\&|LIS|DEMO-LIS|CARELOOP|CARELOOP|20261123234012||ORU^R01|"
        f"{control_id}|P|2.4|||AL|NE|CHN|UNICODE UTF-8",
        "PID|1||MZ00077777^^^DEMO-H1^MR||赵^一鸣||19600101|M",
        # a report of its own (results sent again under one report replace those before)
        f"OBR|1|ORD7|RPT-{control_id}|MICRO^检验^L|||20261123221500|||||||||||||||"
        "20261123234000|||F",
        *(f"OBX|{i}|{_to_obx_8(segment)}|||F|||20261123221500" for i, segment in enumerate(obx, 1)),
    ]
    return "\r".join(segments) + "\r"


def _to_obx_8(fields: str) -> str:
    """OBX-2 … OBX-8 (value type … abnormal flag), so that status and time fall in OBX-11
    and OBX-14."""
    parts = fields.rstrip("|").split("|")
    return "|".join(parts + [""] * (7 - len(parts)))


def send_text(server: MllpServer, text: str) -> str:
    from hl7.client import MLLPClient

    with MLLPClient("127.0.0.1", server.port, encoding="utf-8") as client:
        return msa(client.send_message(text))


def test_a_positive_blood_culture_is_critical_and_a_negative_one_is_not(
    mllp: MllpServer,  # noqa: F811
) -> None:
    assert (
        send_text(
            mllp,
            oru(
                "CULT1",
                "CWE|600-7^血培养^LN||3092008^金黄色葡萄球菌^SCT||||",
                "ST|606-4^脑脊液培养^LN||培养5天无细菌生长||||",
                "ST|60258-1^骨髓培养^LN||待报告||||",
            ),
        )
        == "AA"
    )
    process_all()
    results = {o.code: o for o in Observation.objects.all()}
    blood, csf, marrow = results["600-7"], results["606-4"], results["60258-1"]
    assert (blood.interpretation, blood.critical) == ("A", True)
    assert not csf.critical and not marrow.critical
    alert = Alert.objects.get(kind="critical_value")
    assert alert.observation_id == blood.pk
    assert alert.reason.startswith("血培养：金黄色葡萄球菌，为危急值（阳性）。")
    assert alert.assignee is None  # no doctor at the hospital to own it


def test_a_new_patients_critical_value_has_an_owner_at_once(
    mllp: MllpServer,  # noqa: F811
    hospital_org: Organisation,  # noqa: F811
) -> None:
    from careloop.accounts.roles import Role
    from careloop.followup.services import raise_alert
    from careloop.followup.tasks import sweep_alerts
    from tests.factories import UserFactory

    busy, doctor = (UserFactory(organisation=hospital_org, role=Role.DOCTOR) for _ in "12")
    send_text(mllp, oru("K1", "NM|2823-3^钾^LN||6.9|mmol/L|3.5-5.3|||"))
    process_all()
    alert = Alert.objects.get(kind="critical_value")
    assert alert.patient.responsible_doctor_id is None  # enrolled by the message
    raise_alert(
        alert.patient, kind="manual", severity="low", title="t", reason="r", assignee_id=busy.pk
    )
    assert sweep_alerts.call()["owned"] == 1  # the per-minute sweep, not its deadline
    alert.refresh_from_db()
    assert alert.assignee_id == doctor.pk  # the less busy of the two
    assert alert.events.get().note == f"患者尚无责任医生，分配给{doctor}"
    assert sweep_alerts.call()["owned"] == 0


def test_alt_is_critical_on_its_first_occurrence_only(mllp: MllpServer) -> None:  # noqa: F811
    assert send_text(mllp, oru("ALT1", "NM|1742-6^ALT^LN||520|U/L|9-50|H||")) == "AA"
    process_all()
    first = Observation.objects.get()
    assert (first.interpretation, first.critical) == ("HH", True)
    assert Alert.objects.filter(kind="critical_value").count() == 1
    # Two more in one message, and an AST: the ALTs are repeats, the AST is a first.
    assert (
        send_text(
            mllp,
            oru(
                "ALT2",
                "NM|1742-6^ALT^LN||610|U/L|9-50|H||",
                "NM|1920-8^AST^LN||450|U/L|15-40|H||",
                "NM|1742-6^ALT^LN||700|U/L|9-50|H||",
            ),
        )
        == "AA"
    )
    process_all()
    later = Observation.objects.exclude(pk=first.pk)
    assert sorted((o.code, o.value, o.interpretation, o.critical) for o in later) == [
        ("1742-6", 610, "H", False),
        ("1742-6", 700, "H", False),
        ("1920-8", 450, "HH", True),
    ]
    assert all(REPEAT_NOTE in o.note for o in later.filter(code="1742-6"))
    assert sorted(Alert.objects.values_list("observation__code", flat=True)) == [
        "1742-6",
        "1920-8",
    ]


def test_the_laboratorys_own_critical_flag_on_a_repeat_stands(
    mllp: MllpServer,  # noqa: F811
) -> None:
    send_text(mllp, oru("ALT3", "NM|1742-6^ALT^LN||520|U/L|9-50|H||"))
    send_text(mllp, oru("ALT4", "NM|1742-6^ALT^LN||900|U/L|9-50|HH||"))
    process_all()
    assert Alert.objects.filter(kind="critical_value").count() == 2


def test_a_newborns_bilirubin_has_its_own_critical_value(fhir: Fhir) -> None:  # noqa: F811
    born = timezone.localdate() - timedelta(days=5)
    newborn = patient_resource(birthDate=born.isoformat(), identifier=[], name=[{"text": "婴儿"}])
    baby = fhir.call("POST", "/Patient", newborn)[1]["id"]
    adult = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    when = (timezone.localtime() - timedelta(hours=1)).isoformat()
    status, body, _ = fhir.call(
        "POST", "/Observation", observation(f"Patient/{baby}", "14631-6", 350, "umol/L", when)
    )
    assert status == 201, body
    assert body["interpretation"][0]["coding"][0]["code"] == "HH"
    grown = fhir.call(
        "POST", "/Observation", observation(f"Patient/{adult}", "14631-6", 350, "umol/L", when)
    )[1]
    assert not Observation.objects.get(pk=grown["id"]).critical  # no threshold past 28 days
    alert = Alert.objects.get(kind="critical_value")
    assert alert.patient_id == int(baby) and "（新生儿≥340 umol/L）" in alert.reason
    from django.test import Client

    from careloop.accounts.models import User

    staff = Client()
    staff.force_login(User.objects.get(username="carol"))
    page = staff.get(f"/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "· 5天 ·" in page  # not "0岁"


def test_an_organisations_own_newborn_threshold_wins(
    fhir: Fhir,  # noqa: F811
    cardiology: Organisation,
) -> None:
    CriticalValueRule.objects.create(
        organisation=cardiology, code="14631-6", patient_group="neonate", high=300
    )
    from careloop.clinical import catalogue

    catalogue.invalidate()
    born = timezone.localdate() - timedelta(days=3)
    baby = fhir.call(
        "POST", "/Patient", patient_resource(birthDate=born.isoformat(), identifier=[])
    )[1]["id"]
    when = (timezone.localtime() - timedelta(hours=1)).isoformat()
    body = fhir.call(
        "POST", "/Observation", observation(f"Patient/{baby}", "14631-6", 320, "umol/L", when)
    )[1]
    assert body["interpretation"][0]["coding"][0]["code"] == "HH"


def test_a_corrected_first_alt_stays_critical(fhir: Fhir) -> None:  # noqa: F811
    patient = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    resource: dict[str, Any] = observation(f"Patient/{patient}", "1742-6", 520, "U/L")
    first = fhir.call("POST", "/Observation", resource)[1]
    assert first["interpretation"][0]["coding"][0]["code"] == "HH"
    resource["valueQuantity"]["value"] = 540
    status, corrected, _ = fhir.call(
        "PUT", f"/Observation/{first['id']}", resource | {"id": first["id"]}
    )
    assert status == 200, corrected
    assert corrected["interpretation"][0]["coding"][0]["code"] == "HH"
    again = fhir.call(
        "POST", "/Observation", observation(f"Patient/{patient}", "1742-6", 600, "U/L")
    )[1]
    assert again["interpretation"][0]["coding"][0]["code"] == "H"
    assert Alert.objects.filter(kind="critical_value").count() == 1


def test_a_newborns_bilirubin_in_mg_dl_and_an_alt_sent_as_text_are_critical(
    mllp: MllpServer,  # noqa: F811
) -> None:
    born = (timezone.localdate() - timedelta(days=3)).strftime("%Y%m%d")
    taken = (timezone.localtime() - timedelta(hours=1)).strftime("%Y%m%d%H%M%S")
    text = (
        oru("BIL1", "NM|14631-6^总胆红素^LN||20.5|mg/dL|0.2-1.2|||")
        .replace("19600101", born)
        .replace("20261123221500", taken)
    )
    assert send_text(mllp, text) == "AA"
    assert send_text(mllp, oru("ALTX", "ST|1742-6^ALT^LN||>1000|U/L|9-50|||")) == "AA"
    process_all()
    bilirubin = Observation.objects.get(code="14631-6")
    assert bilirubin.value_normalised == pytest.approx(350.55)  # 20.5 mg/dL × 17.1
    assert (bilirubin.interpretation, bilirubin.critical) == ("HH", True)
    alt = Observation.objects.get(code="1742-6")
    assert (alt.comparator, alt.value, alt.critical) == (">", 1000, True)
    assert Alert.objects.filter(kind="critical_value").count() == 2


def test_an_administrators_critical_value_must_make_sense(cardiology: Organisation) -> None:
    from django.core.exceptions import ValidationError

    def problems(**fields: Any) -> dict[str, list[str]]:
        rule = CriticalValueRule(**{"organisation": cardiology, **fields})
        with pytest.raises(ValidationError) as raised:
            rule.full_clean()
        return raised.value.message_dict

    assert "low" in problems(code="2823-3")  # nothing would be critical any more
    assert "high" in problems(code="2951-2", low=170, high=110)
    assert "code" in problems(code="9999-9", high=5)
    CriticalValueRule(code="2823-3", organisation=cardiology, high=6.5).full_clean()
    duplicate = problems(organisation=None, code="14631-6", patient_group="neonate", high=330)
    assert duplicate["__all__"] == ["该代码和患者人群的默认危急值已存在，请修改已有的那一条。"]


def test_a_reports_results_keep_the_laboratorys_order_critical_or_not(
    mllp: MllpServer,  # noqa: F811
    patient_factory: Any,
    cardiology: Organisation,
) -> None:
    from careloop.clinical.assessment import ResultInput
    from careloop.clinical.services import do_record_results

    send_text(
        mllp,
        oru(
            "ORD1",
            "NM|14749-6^葡萄糖^LN||5.0|mmol/L|3.9-6.1|||",
            "NM|2823-3^钾^LN||6.9|mmol/L|3.5-5.3|||",
            "NM|2951-2^钠^LN||140|mmol/L|137-147|||",
        ),
    )
    process_all()
    assert list(Observation.objects.order_by("pk").values_list("code", flat=True)) == [
        "14749-6",
        "2823-3",
        "2951-2",
    ]
    patient = patient_factory(organisation=cardiology)
    when = timezone.now() - timedelta(hours=1)
    stored = do_record_results(
        patient,
        None,
        [
            ResultInput("钠", when, loinc="2951-2", value=140, unit="mmol/L"),
            ResultInput("钾", when, loinc="2823-3", value=2.5, unit="mmol/L"),
            ResultInput("葡萄糖", when, loinc="14749-6", value=5.0, unit="mmol/L"),
        ],
        source="manual",
        source_label="test",
    )
    mine = Observation.objects.filter(patient=patient).order_by("pk")
    assert list(mine.values_list("code", flat=True)) == ["2951-2", "2823-3", "14749-6"]
    [alert] = stored.alerts
    assert alert.observation_id == mine[1].pk and "2.5" in alert.reason


def test_first_occurrence_is_within_30_days_and_never_a_cancelled_result(
    mllp: MllpServer,  # noqa: F811
) -> None:
    # A cancelled result (OBX-11 D) is never critical, nor an earlier occurrence.
    cancelled = oru("ALTD", "NM|1742-6^ALT^LN||520|U/L|9-50|||").replace("|||F|||", "|||D|||", 1)
    assert send_text(mllp, cancelled) == "AA"
    # A critical ALT months ago is not this episode's.
    months_ago = oru("ALTOLD", "NM|1742-6^ALT^LN||480|U/L|9-50|||").replace(
        "20261123221500", "20260801080000"
    )
    assert send_text(mllp, months_ago) == "AA"
    assert send_text(mllp, oru("ALTNEW", "NM|1742-6^ALT^LN||2400|U/L|9-50|||")) == "AA"
    process_all()
    by_value = {o.value: o for o in Observation.objects.all()}
    assert (by_value[520].status, by_value[520].critical) == ("cancelled", False)
    assert by_value[520].interpretation == "H"
    assert by_value[480].critical and by_value[2400].critical
    assert Alert.objects.filter(kind="critical_value").count() == 2


def test_a_haematology_patients_blood_count_has_its_own_critical_values(
    mllp: MllpServer,  # noqa: F811
) -> None:
    """REFERENCE §4.5: white count critical at ≤ 0.5 and platelets at ≤ 10 ×10⁹/L for a
    haematology or chemotherapy patient (≤ 2.0 and ≤ 30 for everyone else)."""
    from careloop.clinical.models import Condition

    counts = (
        "NM|6690-2^白细胞^LN||1.2|10*9/L|3.5-9.5|L||",
        "NM|777-3^血小板^LN||20|10*9/L|125-350|L||",
    )
    assert send_text(mllp, oru("WBC1", *counts)) == "AA"
    process_all()
    before = {o.code: o for o in Observation.objects.all()}
    assert before["6690-2"].critical and before["777-3"].critical  # not known as one yet
    patient = before["6690-2"].patient
    Condition.objects.create(patient=patient, icd10_code="C92.0", name="急性髓系白血病")
    assert (
        send_text(mllp, oru("WBC2", *counts, "NM|6690-2^白细胞^LN||0.4|10*9/L|3.5-9.5|L||")) == "AA"
    )
    process_all()
    wbc, platelets, lowest = Observation.objects.exclude(
        pk__in=[o.pk for o in before.values()]
    ).order_by("pk")
    assert (wbc.interpretation, wbc.critical) == ("L", False)
    assert (platelets.interpretation, platelets.critical) == ("L", False)
    assert "血液病/化疗患者" in wbc.note
    assert (lowest.interpretation, lowest.critical) == ("LL", True)
    alert = Alert.objects.get(kind="critical_value", observation=lowest)
    assert "血液病/化疗≤0.5" in alert.reason
    assert Alert.objects.filter(kind="critical_value").count() == 3  # the first message's two


def test_a_resolved_diagnosis_or_another_one_keeps_everyones_critical_values(
    fhir: Fhir,  # noqa: F811
) -> None:
    from careloop.clinical.models import Condition

    patient = fhir.call("POST", "/Patient", patient_resource())[1]["id"]
    Condition.objects.create(patient_id=patient, icd10_code="I10", name="高血压")
    Condition.objects.create(
        patient_id=patient,
        icd10_code="C91.1",
        name="慢性淋巴细胞白血病",
        clinical_status="resolved",
    )
    body = fhir.call(
        "POST", "/Observation", observation(f"Patient/{patient}", "6690-2", 1.5, "10*9/L")
    )[1]
    assert body["interpretation"][0]["coding"][0]["code"] == "LL"
    Condition.objects.create(patient_id=patient, icd10_code="Z51.1", name="肿瘤化疗")
    body = fhir.call(
        "POST", "/Observation", observation(f"Patient/{patient}", "6690-2", 1.5, "10*9/L")
    )[1]
    assert not Observation.objects.get(pk=body["id"]).critical  # no range sent: not graded L
    assert Alert.objects.filter(kind="critical_value").count() == 1  # the first one's
