"""HL7 PR1 procedures in ADT messages, over real MLLP: stored beside the diagnoses, a bad
one refused AE naming its field, an operation making the patient 术后 (DOMAIN F5)."""

from datetime import datetime, timedelta

import hl7
import pytest
from django.utils import timezone
from hl7.client import MLLPClient

from careloop.clinical.models import Encounter, Procedure
from careloop.interop.mllp import MllpServer
from careloop.interop.models import InboundMessage
from careloop.patients.models import Patient
from careloop.rules.pack import load_pack
from tests.test_mllp import fixture, hospital_org, mllp, msa, process_all  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
STENT = "36.0601^经皮冠状动脉药物洗脱支架置入术^ICD-9-CM-3"


def _ts(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y%m%d%H%M%S")


def _discharge(control_id: str, *pr1: str, event: str = "A03") -> str:
    """The discharge fixture, sent now, with these PR1 segments after its diagnoses."""
    text = fixture("adt_a03_discharge.hl7").decode().rstrip("\r\n")
    text = text.replace("HIS-A03-0001", control_id).replace("ADT^A03^ADT_A03", f"ADT^{event}")
    return "\r".join([text, *pr1]) + "\r"


def _send(server: MllpServer, text: str) -> hl7.Message:
    with MLLPClient("127.0.0.1", server.port, encoding="utf-8") as client:
        return hl7.parse(client.send_message(text))


def test_a_discharge_s_procedures_are_stored_and_an_operation_tags_the_patient(
    mllp: MllpServer,  # noqa: F811
) -> None:
    load_pack()
    operated = _ts(timezone.now() - timedelta(days=3))
    x_ray = _ts(timezone.now() - timedelta(days=4))
    text = _discharge(
        "HIS-A03-PR1",
        f"PR1|1||{STENT}||{operated}",
        f"PR1|2||87.44^^ICD9CM3|胸部X线检查|{x_ray}",
        f"PR1|3||KX-001^院内操作^LOCAL||{x_ray}",
    )
    assert msa(_send(mllp, text)) == "AA"
    assert process_all().failed == 0
    patient = Patient.objects.get(name="李国强")
    stay = Encounter.objects.get(patient=patient)
    message = InboundMessage.objects.get(control_id="HIS-A03-PR1")
    rows = {
        p.code: (p.code_system, p.name, p.is_surgery, p.encounter_id, p.source_message_id)
        for p in Procedure.objects.filter(patient=patient)
    }
    assert rows == {
        "36.0601": ("ICD-9-CM-3", "经皮冠状动脉药物洗脱支架置入术", True, stay.pk, message.pk),
        "87.44": ("ICD-9-CM-3", "胸部X线检查", False, stay.pk, message.pk),
        "KX-001": ("LOCAL", "院内操作", False, stay.pk, message.pk),
    }
    stent = Procedure.objects.get(code="36.0601")
    assert _ts(stent.performed_at) == operated and stent.source == "hl7"
    assert stent.organisation_id == patient.organisation_id
    assert "术后" in set(patient.tags.values_list("tag__name", flat=True))

    # An update sending the stay's procedures again adds none.
    assert msa(_send(mllp, _discharge("HIS-A08-PR1", f"PR1|1||{STENT}||{operated}"))) == "AA"
    assert process_all().failed == 0
    assert Procedure.objects.filter(patient=patient).count() == 3


def test_a_procedure_long_ago_or_not_an_operation_does_not_tag(
    mllp: MllpServer,  # noqa: F811
) -> None:
    load_pack()
    old = _ts(timezone.now() - timedelta(days=40))
    recent = _ts(timezone.now() - timedelta(days=2))
    text = _discharge("HIS-A03-OLD", f"PR1|1||{STENT}||{old}", f"PR1|2||87.44||{recent}")
    assert msa(_send(mllp, text)) == "AA"
    assert process_all().failed == 0
    patient = Patient.objects.get(name="李国强")
    assert Procedure.objects.filter(patient=patient).count() == 2
    assert "术后" not in set(patient.tags.values_list("tag__name", flat=True))


def test_a_malformed_procedure_is_refused_naming_its_field(
    mllp: MllpServer,  # noqa: F811
) -> None:
    """Like a DG1's: AE with an ERR naming PR1-3 or PR1-5, and nothing imported."""
    recent = _ts(timezone.now() - timedelta(days=1))
    future = _ts(timezone.now() + timedelta(days=2))
    refused = {
        f"PR1|2||^支架置入术^ICD-9-CM-3||{recent}": ("PR1^2^3", "code is missing"),
        f"PR1|2||ABC^某手术^ICD-9-CM-3||{recent}": ("PR1^2^3", "not an ICD-9-CM-3 code"),
        f"PR1|2||{STENT}||20261399": ("PR1^2^5", "not a valid date"),
        f"PR1|2||{STENT}||yesterday": ("PR1^2^5", "not an HL7 date/time"),
        f"PR1|2||{STENT}||{future}": ("PR1^2^5", "is in the future"),
    }
    for n, (pr1, (where, problem)) in enumerate(refused.items()):
        ack = _send(mllp, _discharge(f"HIS-A03-BAD{n}", f"PR1|1||{STENT}||{recent}", pr1))
        assert msa(ack) == "AE", pr1
        err = str(ack.segment("ERR"))
        assert where in err and problem in err, err
    process_all()
    assert not Procedure.objects.exists()


def test_a_procedure_sent_without_its_date_is_kept_at_the_admission_and_said_so(
    mllp: MllpServer,  # noqa: F811
) -> None:
    """Many HIS leave PR1-5 empty: the discharge is not refused for it (the stay and its
    diagnoses would be lost with it); the admission (PV1-44) stands for the date. Without an
    admission time either, PR1-5 is named."""
    ack = _send(mllp, _discharge("HIS-A03-NODATE", f"PR1|1||{STENT}||"))
    assert msa(ack) == "AA", str(ack)
    assert process_all().failed == 0
    done = Procedure.objects.get()
    assert timezone.localtime(done.performed_at).strftime("%Y%m%d%H%M") == "202611010830"
    assert "PR1-5" in done.note
    no_admission = _discharge("HIS-A03-NODATE2", f"PR1|1||{STENT}||").replace(
        "|20261101083000|20261110150000", "||20261110150000"
    )
    refused = _send(mllp, no_admission)
    assert msa(refused) == "AE"
    assert "PR1^1^5" in str(refused.segment("ERR"))


def test_a_discharge_after_an_operation_enrols_the_patient_on_the_post_operative_pathway(
    mllp: MllpServer,  # noqa: F811
) -> None:
    from careloop.followup.models import Plan
    from careloop.followup.pathways import load_pack as load_pathways

    load_pathways()
    load_pack()
    now = timezone.now()
    stay = f"|{_ts(now - timedelta(days=5))}|{_ts(now - timedelta(hours=2))}"
    operated = _ts(now - timedelta(days=3))
    text = _discharge("HIS-A03-OP", f"PR1|1||{STENT}||{operated}")
    assert msa(_send(mllp, text.replace("|20261101083000|20261110150000", stay))) == "AA"
    assert process_all().failed == 0
    patient = Patient.objects.get(name="李国强")
    pathways = set(Plan.objects.filter(patient=patient).values_list("pathway__code", flat=True))
    assert "post-op" in pathways
    # A discharge with no operation (the same stay sent as another patient) enrols no one on it.
    other = (
        text.replace("|20261101083000|20261110150000", stay)
        .replace(f"\rPR1|1||{STENT}||{operated}", "")
        .replace("ZY00055555", "ZY00066666")
        .replace("510104194811020152", "")
        .replace("李^国强", "王^建军")
        .replace("HIS-A03-OP", "HIS-A03-NOOP")
    )
    assert msa(_send(mllp, other)) == "AA"
    assert process_all().failed == 0
    plain = Patient.objects.get(name="王建军")
    assert not Plan.objects.filter(patient=plain, pathway__code="post-op").exists()
