"""ADT events about a known stay, over real MLLP: A11 cancels the admission (the stay kept,
marked cancelled), A13 cancels the discharge (the stay back in progress, the post-discharge
plan it enrolled stopped, open tasks cancelled, done ones kept), A02 transfers the patient
(department, ward and bed updated and audited). A stay not known answers AE naming PV1-19."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import pytest
from django.utils import timezone
from hl7.client import MLLPClient

from careloop.audit.models import AuditEvent
from careloop.clinical.models import Encounter
from careloop.followup.models import Plan, Task
from careloop.followup.pathways import load_pack
from careloop.interop.mllp import MllpServer
from careloop.interop.models import InboundMessage
from careloop.patients.models import Patient
from tests.test_mllp import fixture, hospital_org, mllp, msa, process_all  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
SH = ZoneInfo("Asia/Shanghai")
DISCHARGED = datetime(2026, 11, 10, 15, 0, tzinfo=SH)


@pytest.fixture
def clock(monkeypatch: Any) -> None:
    monkeypatch.setattr(timezone, "now", lambda: DISCHARGED + timedelta(hours=1))


def _message(name: str, control_id: str, event: str) -> str:
    """A fixture (A01 or A03) sent as ``event`` under ``control_id``."""
    text = fixture(name).decode()
    original = "A01" if "a01" in name else "A03"
    text = text.replace(f"HIS-{original}-0001", control_id)
    text = text.replace(f"ADT^{original}^ADT_{original}", f"ADT^{event}")
    return text.replace(f"EVN|{original}|", f"EVN|{event}|")


def _send(server: MllpServer, text: str) -> hl7.Message:
    with MLLPClient("127.0.0.1", server.port, encoding="utf-8") as client:
        return hl7.parse(client.send_message(text))


def test_a_cancelled_discharge_reopens_the_stay_and_stops_its_post_discharge_plan(
    mllp: MllpServer,  # noqa: F811
    clock: None,
) -> None:
    load_pack()
    assert msa(_send(mllp, _message("adt_a03_discharge.hl7", "D1", "A03"))) == "AA"
    assert process_all().failed == 0
    patient = Patient.objects.get()
    heart = Plan.objects.get(patient=patient, pathway__code="discharge-heart")
    done = heart.tasks.order_by("due_at").first()
    assert done is not None
    Task.objects.filter(pk=done.pk).update(status=Task.Status.DONE)

    assert msa(_send(mllp, _message("adt_a03_discharge.hl7", "D1-UNDO", "A13"))) == "AA"
    assert process_all().failed == 0
    stay = Encounter.objects.get(patient=patient)
    assert (stay.status, stay.ended_at) == (Encounter.Status.IN_PROGRESS, None)
    heart.refresh_from_db()
    assert (heart.status, heart.stop_reason) == ("stopped", "discharge_undone")
    assert heart.tasks.get(pk=done.pk).status == Task.Status.DONE  # what was done stays
    rest = heart.tasks.exclude(pk=done.pk)
    assert rest.exists() and not rest.exclude(status=Task.Status.CANCELLED).exists()
    assert all("出院已撤销" in t.cancel_reason for t in rest)
    # The programme a diagnosis enrolled is not the discharge's: it goes on.
    assert Plan.objects.get(patient=patient, pathway__code="htn-programme").status == "active"
    assert AuditEvent.objects.filter(
        object_type="encounter", object_id=str(stay.pk), summary__contains="ADT^A13"
    ).exists()

    # The real discharge later enrols the patient again.
    assert msa(_send(mllp, _message("adt_a03_discharge.hl7", "D2", "A03"))) == "AA"
    assert process_all().failed == 0
    again = Plan.objects.get(patient=patient, pathway__code="discharge-heart", status="active")
    assert again.pk != heart.pk


def test_a_cancelled_admission_marks_the_stay_cancelled(mllp: MllpServer) -> None:  # noqa: F811
    assert msa(_send(mllp, _message("adt_a01_admit.hl7", "A1", "A01"))) == "AA"
    assert process_all().failed == 0
    assert msa(_send(mllp, _message("adt_a01_admit.hl7", "A1-CANCEL", "A11"))) == "AA"
    assert process_all().failed == 0
    stay = Encounter.objects.get()  # kept, not deleted
    assert (stay.visit_number, stay.status) == ("ZY20261101001", Encounter.Status.CANCELLED)
    assert InboundMessage.objects.get(control_id="A1-CANCEL").status == "processed"


def test_a_stay_event_naming_an_unknown_visit_is_refused_naming_pv1_19(
    mllp: MllpServer,  # noqa: F811
) -> None:
    assert msa(_send(mllp, _message("adt_a01_admit.hl7", "A1", "A01"))) == "AA"
    assert process_all().failed == 0
    for event in ("A11", "A13", "A02"):
        text = _message("adt_a01_admit.hl7", f"X-{event}", event).replace(
            "ZY20261101001", "ZY-NOT-KNOWN"
        )
        ack = _send(mllp, text)
        assert msa(ack) == "AE", event
        err = str(ack.segment("ERR"))
        assert "PV1^1^19" in err and "ZY-NOT-KNOWN" in err, err
    assert Encounter.objects.get().status == Encounter.Status.IN_PROGRESS


def test_a_transfer_moves_the_stay_to_its_new_ward_and_is_recorded(
    mllp: MllpServer,  # noqa: F811
) -> None:
    assert msa(_send(mllp, _message("adt_a01_admit.hl7", "A1", "A01"))) == "AA"
    assert process_all().failed == 0
    assert Encounter.objects.get().location == "心内科/0301/05"
    text = _message("adt_a01_admit.hl7", "T1", "A02").replace(
        "PV1|1|I|心内科^0301^05||||", "PV1|1|I|神经内科^0502^12|||心内科^0301^05|"
    )
    assert msa(_send(mllp, text)) == "AA"
    assert process_all().failed == 0
    stay = Encounter.objects.get()
    assert (stay.department, stay.location) == ("神经内科", "神经内科/0502/12")
    assert stay.status == Encounter.Status.IN_PROGRESS
    event = AuditEvent.objects.get(object_type="encounter", summary__contains="ADT^A02")
    assert event.changes["department"] == ["心内科", "神经内科"]
    assert event.changes["prior_location"] == "心内科/0301/05"
