"""HL7 ADT^A40 over real MLLP: the prior patient (MRG-1) merged into the surviving one
(PID-3) — results, stays, tasks, identifiers moved in one transaction, a result both records
have not doubled, the prior record marked merged and audited; an unknown prior patient
answered AE naming MRG-1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import hl7
import pytest
from django.utils import timezone
from hl7.client import MLLPClient

from careloop.audit.models import AuditEvent
from careloop.clinical.models import Encounter, Observation
from careloop.followup.models import Alert, Task
from careloop.interop.mllp import MllpServer
from careloop.patients.models import Patient, PatientIdentifier
from tests.test_mllp import fixture, hospital_org, mllp, msa, process_all  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
ID_NUMBER = "11010119500315003X"
PRIOR_PID3 = "MZ00012345^^^DEMO-H1^MR"
BOTH = f"MZ00012345^^^DEMO-H1^MR~{ID_NUMBER}^^^^NI"


def _send(server: MllpServer, text: str) -> hl7.Message:
    with MLLPClient("127.0.0.1", server.port, encoding="utf-8") as client:
        return hl7.parse(client.send_message(text))


def _results(control_id: str, pid3: str) -> str:
    """The LIS sample (five results, a critical potassium) naming the patient by ``pid3``."""
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    return text.replace("LIS202611230001", control_id).replace(BOTH, pid3)


def _merge(control_id: str, prior: str) -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|HIS|DEMO-HIS|CARELOOP|CARELOOP|20261124090000||ADT^A40^ADT_A39|"
            f"{control_id}|P|2.5.1|||AL|NE|CHN|UNICODE UTF-8",
            "EVN|A40|20261124090000",
            f"PID|1||ZY00077777^^^DEMO-H1^MR~{ID_NUMBER}^^^^NI||王^建国||19500315|M",
            f"MRG|{prior}",
            "",
        ]
    )


def test_a_merge_moves_the_prior_patient_s_records_without_doubling_results(
    mllp: MllpServer,  # noqa: F811
) -> None:
    # The LIS registered him under its outpatient number alone: a second record.
    assert msa(_send(mllp, _results("LIS-PRIOR", PRIOR_PID3))) == "AA"
    # The HIS knows him by his resident ID, and the LIS sent the same report under it too.
    assert msa(_send(mllp, _results("LIS-SURV", f"{ID_NUMBER}^^^^NI"))) == "AA"
    assert process_all().failed == 0
    prior = PatientIdentifier.objects.get().patient  # the outpatient number's
    survivor = Patient.objects.exclude(pk=prior.pk).get()
    assert survivor.id_number == ID_NUMBER
    assert Observation.objects.filter(patient=prior).count() == 5
    now = timezone.now()
    task = Task.objects.create(
        patient=prior,
        organisation=prior.organisation,
        title="门诊复查提醒",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=now,
        deadline=now + timedelta(days=2),
    )
    stay = Encounter.objects.create(
        patient=prior, kind="outpatient", started_at=now, visit_number="MZ20261123001"
    )

    assert msa(_send(mllp, _merge("MERGE-1", PRIOR_PID3))) == "AA"
    assert process_all().failed == 0
    prior.refresh_from_db()
    assert prior.merged_into == survivor and prior.merged_at is not None
    # Results both records had are not doubled; the rest moved.
    assert Observation.objects.filter(patient=survivor).count() == 5
    assert Alert.objects.filter(patient=survivor, kind="critical_value").count() == 1
    assert Task.objects.get(pk=task.pk).patient_id == survivor.pk
    assert Encounter.objects.get(pk=stay.pk).patient_id == survivor.pk
    # MZ00012345 moved with his records (ZY00077777 is the merge message's own)
    assert set(PatientIdentifier.objects.values_list("patient_id", flat=True)) == {survivor.pk}
    assert AuditEvent.objects.filter(
        object_type="patient", object_id=str(prior.pk), summary__contains="ADT^A40"
    ).exists()
    assert AuditEvent.objects.filter(
        object_type="patient", object_id=str(survivor.pk), summary__contains="ADT^A40"
    ).exists()

    # Later results under the prior number reach the surviving record; the merge sent
    # again changes nothing.
    later = _results("LIS-LATER", PRIOR_PID3).replace("20261123221500", "20261120081500")
    assert msa(_send(mllp, later)) == "AA"
    assert msa(_send(mllp, _merge("MERGE-2", PRIOR_PID3))) == "AA"
    assert process_all(fast=False).failed == 0
    assert Observation.objects.filter(patient=survivor).count() == 10
    assert Observation.objects.filter(patient=prior).count() == 5  # the twins, kept aside


def test_a_merge_naming_an_unknown_prior_patient_is_refused_naming_mrg_1(
    mllp: MllpServer,  # noqa: F811
) -> None:
    assert msa(_send(mllp, _results("LIS-SURV", f"{ID_NUMBER}^^^^NI"))) == "AA"
    assert process_all().failed == 0
    ack = _send(mllp, _merge("MERGE-X", "MZ99999999^^^DEMO-H1^MR"))
    assert msa(ack) == "AE"
    err = str(ack.segment("ERR"))
    assert "MRG^1^1" in err and "prior patient" in err, err
    assert not Patient.objects.filter(merged_into__isnull=False).exists()


@pytest.mark.django_db
def test_a_merged_record_is_not_listed_and_its_page_points_to_the_one_kept(
    hospital: Any, alice: Any
) -> None:
    from tests.factories import PatientFactory
    from tests.test_patients_web import logged_in

    kept = PatientFactory(organisation=hospital, name="刘德明")
    merged = PatientFactory(organisation=hospital, name="刘德明")
    Patient.objects.filter(pk=merged.pk).update(merged_into=kept, merged_at=timezone.now())
    client = logged_in(alice)
    listed = client.get("/patients/", {"q": "刘德明"}).context["page"].object_list
    assert [p.pk for p in listed] == [kept.pk]
    page = client.get(f"/patients/{merged.pk}/").content.decode()
    assert 'data-testid="merged-into"' in page and f"/patients/{kept.pk}/" in page
