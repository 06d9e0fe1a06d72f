"""HL7 v2 over real TCP: the listener stores, acknowledges and never dies; the processor
imports results (graded, critical values alerted) and admissions/discharges."""

import asyncio
import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import hl7
import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from hl7.client import MLLPClient

from careloop.accounts.models import Organisation
from careloop.audit.models import AuditEvent
from careloop.clinical.models import Condition, DiagnosticReport, Encounter, Observation
from careloop.followup.models import Alert
from careloop.interop import batch, patient_locks
from careloop.interop.hl7.message import HL7Error
from careloop.interop.mllp import MllpServer
from careloop.interop.models import CodeMapping, InboundMessage, SourceSystem
from careloop.interop.processing import Part, claim, claim_urgent, process_batch, reprocess
from careloop.interop.webhook_models import WebhookEndpoint
from careloop.patients.models import Patient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hl7"


@pytest.fixture
def hospital_org(db: None) -> Organisation:
    org = Organisation(code="DEMO-H1", name="示范医院", kind="hospital")
    org.save()
    return org


@pytest.fixture
def mllp(hospital_org: Organisation) -> Iterator[MllpServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = MllpServer("127.0.0.1", 0, idle_timeout=0.5, max_frame=64 * 1024)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def send(server: MllpServer, name: str, encoding: str = "utf-8") -> hl7.Message:
    with MLLPClient("127.0.0.1", server.port, encoding=encoding) as client:
        reply = client.send_message(fixture(name).decode(encoding))
    return hl7.parse(reply)


def send_raw(server: MllpServer, *frames: bytes, expect: int) -> list[str]:
    """Send bytes as they are; return the text of the ``expect`` ACK frames received."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for data in frames:
            sock.sendall(data)
        acks, buffer = [], b""
        while len(acks) < expect:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\x1c\r" in buffer:
                one, buffer = buffer.split(b"\x1c\r", 1)
                acks.append(one.lstrip(b"\x0b").decode("utf-8", "replace"))
    return acks


def msa(ack: hl7.Message | str | bytes) -> str:
    message = ack if isinstance(ack, hl7.Message) else hl7.parse(ack)
    return str(message.segment("MSA")[1])


def process_all(*, fast: bool = True) -> Any:
    """Process what is waiting; results must take the batch path unless told otherwise."""
    result = process_batch(claim())
    assert not fast or result.fell_back == 0, "the batch path failed and fell back"
    return result


def test_a_lis_result_is_stored_acknowledged_and_imported(mllp: MllpServer) -> None:
    ack = send(mllp, "lis_utf8_oru_r01.hl7")
    assert msa(ack) == "AA"
    assert str(ack.segment("MSA")[2]) == "LIS202611230001"
    stored = InboundMessage.objects.get()
    assert bytes(stored.raw) == fixture("lis_utf8_oru_r01.hl7")  # raw, byte for byte
    assert (stored.status, stored.message_type, stored.encoding) == ("received", "ORU^R01", "utf-8")
    assert SourceSystem.objects.get().facility == "DEMO-LIS"  # registered on first sight

    result = process_all()
    assert (result.processed, result.failed, result.observations) == (1, 0, 5)
    patient = Patient.objects.get()
    assert (patient.name, patient.id_number, patient.phone) == (
        "王建国",
        "11010119500315003X",
        "13800138000",
    )
    assert patient.identifiers.get().value == "MZ00012345"
    found = Patient.objects.get(
        id_number_hash__in=Patient.index_hashes("id_number", "11010119500315003x")
    )
    assert found == patient and patient.card_number.startswith("8")
    enrolled = AuditEvent.objects.get(object_type="patient", action="create")
    assert (enrolled.patient_id, enrolled.object_id) == (patient.pk, str(patient.pk))
    assert enrolled.organisation_id == patient.organisation_id and enrolled.via == "system"
    report = DiagnosticReport.objects.get()
    assert report.name == "生化全套" and report.filler_order_number == "RPT0001"
    assert report.conclusion == ""
    values = {o.local_code: o for o in Observation.objects.all()}
    assert values["GLU"].interpretation == "L" and values["GLU"].ref_text == "3.9-6.1"
    assert values["NA"].interpretation == "N"
    assert values["HBSAG"].value_text == "阴性" and values["HBSAG"].interpretation == "N"
    potassium = values["K"]
    assert potassium.critical and potassium.interpretation == "HH"
    assert potassium.note == "标本轻度溶血，请结合临床"
    alert = Alert.objects.get()
    assert alert.kind == "critical_value" and alert.severity == "critical"
    assert alert.patient == patient and alert.observation == potassium
    assert "钾" in alert.title and "6.8" in alert.reason
    stored.refresh_from_db()
    assert stored.status == "processed" and stored.patient == patient


def test_a_critical_value_from_the_lis_is_told_to_the_webhook_endpoint(
    mllp: MllpServer, hospital_org: Organisation
) -> None:
    hook = WebhookEndpoint.objects.create(
        name="集成平台", url="http://127.0.0.1:9/hook", events=["alert.created"]
    )
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    [delivery] = hook.deliveries.all()
    alert = delivery.payload["data"]["alert"]
    assert alert["kind"] == "critical_value" and alert["severity"] == "critical"
    assert "钾" in alert["title"] and "6.8" in alert["reason"]
    assert alert["patient"] == Patient.objects.get().pk
    assert "王建国" not in str(delivery.payload)  # the patient by id, never by name


def test_a_batch_enrols_each_new_patient_once(mllp: MllpServer) -> None:
    text = fixture("lis_utf8_oru_r01.hl7")
    frames = [
        b"\x0b"
        + text.replace(b"LIS202611230001", f"LIS-B{n}".encode()).replace(b"RPT0001", b"RPT%d" % n)
        + b"\x1c\r"
        for n in range(3)
    ]
    assert [msa(a) for a in send_raw(mllp, *frames, expect=3)] == ["AA"] * 3
    result = process_all()  # one claim: all three in one batch
    assert (result.processed, result.failed, result.alerts) == (3, 0, 3)
    patient = Patient.objects.get()
    assert patient.identifiers.count() == 1
    assert AuditEvent.objects.filter(object_type="patient", action="create").count() == 1
    assert DiagnosticReport.objects.filter(patient=patient).count() == 3
    assert Observation.objects.filter(patient=patient).count() == 15


def test_mapped_local_codes_are_graded_against_the_catalogue(
    mllp: MllpServer, hospital_org: Any
) -> None:
    source = SourceSystem.objects.create(facility="DEMO-LIS", organisation=hospital_org)
    CodeMapping.objects.create(source=source, local_code="K", loinc="2823-3")
    CodeMapping.objects.create(source=source, local_code="GLU", loinc="14749-6")
    send(mllp, "lis_utf8_oru_r01.hl7")
    process_all()
    glucose = Observation.objects.get(local_code="GLU")
    assert (glucose.code, glucose.name, glucose.value_normalised) == ("14749-6", "葡萄糖", 3.2)
    potassium = Observation.objects.get(code="2823-3")
    assert potassium.critical and potassium.name == "钾"
    assert "≥6.2" in Alert.objects.get().reason  # the default critical value, not the flag


def test_gb18030_without_msh_18_from_an_unknown_sender_is_read_as_gb18030(
    mllp: MllpServer,
) -> None:
    """Many Chinese laboratory systems leave MSH-18 empty and write GB18030: not valid UTF-8
    (the default for a sender not set up), so it was refused AR until an administrator set the
    sender's character set. Read strictly as GB18030, it is accepted."""
    raw = fixture("exam_gb18030_oru_r01.hl7").replace(b"|GB18030", b"|", 1)
    assert b"GB18030" not in raw.split(b"\r")[0]
    [ack] = send_raw(mllp, b"\x0b" + raw + b"\x1c\r", expect=1)
    assert msa(ack) == "AA", ack
    assert InboundMessage.objects.get().encoding == "gb18030"
    process_all()
    assert Patient.objects.get().name == "陈秀英"


def test_gb18030_exam_results_with_loinc_codes(mllp: MllpServer) -> None:
    assert msa(send(mllp, "exam_gb18030_oru_r01.hl7", encoding="gb18030")) == "AA"
    assert InboundMessage.objects.get().encoding == "gb18030"
    process_all()
    patient = Patient.objects.get()
    assert patient.name == "陈秀英" and patient.sex == "female"
    assert patient.identifiers.get().kind == "exam"
    by_code = {o.code: o for o in Observation.objects.all()}
    assert by_code["14647-2"].interpretation == "H"  # TC 6.45 against "<5.2"
    assert by_code["14646-4"].interpretation == "N"  # HDL 1.05 against ">1.0"
    assert by_code["4548-4"].comparator == "<" and by_code["4548-4"].interpretation == "L"
    assert DiagnosticReport.objects.count() == 2
    assert not Alert.objects.exists()


def test_a_resent_message_is_not_imported_twice(mllp: MllpServer) -> None:
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    assert InboundMessage.objects.count() == 1
    process_all()
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    assert process_all().processed == 0
    assert DiagnosticReport.objects.count() == 1 and Alert.objects.count() == 1


def test_a_control_id_used_again_for_another_message_is_refused_and_kept(
    mllp: MllpServer,
) -> None:
    """A LIS whose counter restarted sends new results under a control id it used before:
    they were answered AA and dropped (the unique index absorbed them as a resend)."""
    original = fixture("lis_utf8_oru_r01.hl7")
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    restamped = original.replace(b"|20261123234012|", b"|20261124080000|", 1)
    other = original.replace(b"MZ00012345", b"MZ00099999")  # another patient's results
    acks = send_raw(mllp, b"\x0b" + restamped + b"\x1c\r", b"\x0b" + other + b"\x1c\r", expect=2)
    assert [msa(a) for a in acks] == ["AA", "AR"], acks  # a resend stamped again is one
    err = str(hl7.parse(acks[1]).segment("ERR"))  # v2.4: ERR-1, location^code&text
    assert err.startswith("ERR|MSH^1^10^205&") and "MSH-10: control id LIS202611230001" in err
    assert InboundMessage.objects.count() == 2
    kept = InboundMessage.objects.get(accepted=False)
    assert bytes(kept.raw) == other and (kept.status, kept.ack_code) == ("rejected", "AR")
    assert "LIS202611230001" in kept.error
    assert process_all().processed == 1


def _as_hospital(facility: str, record: str, id_number: str, *, newline: bytes = b"\r") -> bytes:
    """The LIS sample as sent by another hospital, the same control id, another patient."""
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    text = text.replace("|DEMO-LIS|", f"|{facility}|").replace("MZ00012345", record)
    text = text.replace("11010119500315003X", id_number)
    return b"\x0b" + text.encode().replace(b"\r", newline) + b"\x1c\r"


def test_two_chinese_hospitals_with_the_same_control_id_are_two_senders(
    mllp: MllpServer,
) -> None:
    # Same byte length in UTF-8: read as ASCII with replacement, the names were one sender.
    acks = send_raw(
        mllp,
        _as_hospital("人民医院", "MZ1", "110101195003150056"),
        _as_hospital("中心医院", "MZ2", "110102195003150079"),
        expect=2,
    )
    assert [msa(a) for a in acks] == ["AA", "AA"], acks
    assert sorted(InboundMessage.objects.values_list("sending_facility", flat=True)) == [
        "中心医院",
        "人民医院",
    ]
    assert sorted(SourceSystem.objects.values_list("facility", flat=True)) == [
        "中心医院",
        "人民医院",
    ]
    process_all()
    assert Patient.objects.count() == 2


def test_a_lab_sending_the_id_number_as_its_patient_number_finds_the_patient(
    mllp: MllpServer,
) -> None:
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    # Another laboratory's only identifier is the resident ID number, typed PI.
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    text = text.replace("|DEMO-LIS|", "|区中心LIS|").replace("LIS202611230001", "QZX1")
    text = text.replace(
        "MZ00012345^^^DEMO-H1^MR~11010119500315003X^^^^NI", "11010119500315003X^^^CHN^PI"
    )
    [ack] = send_raw(mllp, b"\x0b" + text.encode() + b"\x1c\r", expect=1)
    assert msa(ack) == "AA"
    process_all()
    patient = Patient.objects.get()  # the same person, not a second record
    assert [i.value for i in patient.identifiers.all()] == ["MZ00012345"]
    assert Observation.objects.filter(patient=patient).count() == 10


def test_a_first_generation_id_number_finds_the_patient_enrolled_by_the_new_one(
    mllp: MllpServer,
) -> None:
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    # An old system still sends the 15-digit 一代身份证 number of the same person.
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    text = text.replace("|DEMO-LIS|", "|老院区HIS|").replace("LIS202611230001", "OLD1")
    text = text.replace("MZ00012345^^^DEMO-H1^MR~11010119500315003X^^^^NI", "110101500315003^^^^NI")
    [ack] = send_raw(mllp, b"\x0b" + text.encode() + b"\x1c\r", expect=1)
    assert msa(ack) == "AA"
    process_all()
    patient = Patient.objects.get()  # the same person, not a second record
    assert patient.id_number == "11010119500315003X"
    assert Observation.objects.filter(patient=patient).count() == 10


def test_a_patient_with_only_a_landline_is_registered_with_it(mllp: MllpServer) -> None:
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    text = text.replace("||13800138000^PRN^PH", "||010-62345678^PRN^PH")
    [ack] = send_raw(mllp, b"\x0b" + text.encode() + b"\x1c\r", expect=1)
    assert msa(ack) == "AA"
    process_all()  # enrolled on the batch path, its rows written column by column
    patient = Patient.objects.get()
    assert (patient.phone, patient.phone_kind) == ("010-62345678", "landline")


def _record_number_only(control_id: str, record_number: str) -> bytes:
    """A LIS result naming its patient by the hospital's record number alone (no name,
    birth date, sex or resident ID number), as many laboratory systems send them."""
    text = fixture("lis_utf8_oru_r01.hl7").decode().replace("LIS202611230001", control_id)
    text = text.replace("RPT0001", f"RPT-{control_id}")  # a report of its own
    pid = next(line for line in text.split("\r") if line.startswith("PID|"))
    text = text.replace(pid, f"PID|1||{record_number}^^^DEMO-H1^MR")
    return b"\x0b" + text.encode() + b"\x1c\r"


def test_a_known_patients_result_by_record_number_alone_is_imported(mllp: MllpServer) -> None:
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    [ack] = send_raw(mllp, _record_number_only("MRONLY1", "MZ00012345"), expect=1)
    assert msa(ack) == "AA"
    process_all()  # on the batch path
    patient = Patient.objects.get()  # the same person, the name kept
    assert patient.name == "王建国"
    assert Observation.objects.filter(patient=patient).count() == 10
    stored = InboundMessage.objects.get(control_id="MRONLY1")
    assert (stored.status, stored.patient) == ("processed", patient)


def test_an_unknown_patient_by_record_number_alone_is_refused_naming_what_is_missing(
    mllp: MllpServer,
) -> None:
    [ack] = send_raw(mllp, _record_number_only("MRONLY2", "MZ99999999"), expect=1)
    assert msa(ack) == "AE"
    assert "PID-5" in ack and "not known by these identifiers" in ack
    assert not Patient.objects.exists()
    stored = InboundMessage.objects.get()
    assert (stored.control_id, stored.accepted) == ("MRONLY2", False)


def test_a_result_accepted_for_a_patient_erased_before_its_import_fails_by_itself(
    mllp: MllpServer,
) -> None:
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    [ack] = send_raw(mllp, _record_number_only("MRONLY3", "MZ00012345"), expect=1)
    assert msa(ack) == "AA"
    Patient.objects.all().delete()  # gone between the answer and the import
    result = process_all(fast=False)
    assert (result.processed, result.failed) == (0, 1)
    stored = InboundMessage.objects.get(control_id="MRONLY3")
    assert stored.status == "failed" and "PID-5" in stored.error
    assert not Patient.objects.exists()


def test_an_upgrade_reads_again_the_chinese_names_stored_mangled(mllp: MllpServer) -> None:
    import importlib

    from django.apps import apps

    from careloop.patients.models import PatientIdentifier

    migration = importlib.import_module("careloop.interop.migrations.0006_facility_names")

    def sent(control: bytes) -> bytes:  # a record number with no issuer: the facility issues it
        frame = _as_hospital("人民医院", "MZ1", "110101195003150056")
        frame = frame.replace(b"^^^DEMO-H1^MR~110101195003150056^^^^NI", b"^^^^MR")
        return frame.replace(b"LIS202611230001", control).replace(b"RPT0001", control)

    mangled = "人民医院".encode().decode("ascii", "replace")  # as it was stored before
    source = SourceSystem.objects.create(
        facility=mangled,
        name=mangled,
        organisation=Organisation.objects.get(),
        default_encoding="gb18030",
    )
    message = InboundMessage.objects.create(
        raw=sent(b"LIS202611230001")[1:-2],
        sending_facility=mangled,
        control_id="LIS202611230001",
        source=source,
    )
    process_all()  # as before the upgrade: the record number issued by the mangled name
    assert PatientIdentifier.objects.get().system == mangled[:64]
    migration.rename(apps, None)
    message.refresh_from_db()
    source.refresh_from_db()
    assert message.sending_facility == "人民医院" and source.facility == "人民医院"
    assert source.name == "人民医院" and source.default_encoding == "gb18030"  # kept
    assert PatientIdentifier.objects.get().system == "人民医院"
    # The hospital's next message finds the patient (not a second enrolment).
    assert msa(send_raw(mllp, sent(b"LIS202611230002"), expect=1)[0]) == "AA"
    process_all()
    assert Patient.objects.count() == 1 and Observation.objects.count() == 10


def test_segments_may_end_in_a_line_feed(mllp: MllpServer) -> None:
    [ack] = send_raw(
        mllp, _as_hospital("人民医院", "MZ1", "110101195003150056", newline=b"\n"), expect=1
    )
    assert msa(ack) == "AA", ack
    message = InboundMessage.objects.get()
    assert (message.sending_facility, message.encoding) == ("人民医院", "utf-8")
    process_all()
    assert Observation.objects.count() == 5


def test_a_message_that_cannot_be_read_is_still_answered_by_its_control_id(
    mllp: MllpServer,
) -> None:
    raw = fixture("lis_utf8_oru_r01.hl7").replace(b"|UNICODE UTF-8\r", b"|KOI8-R\r", 1)
    [ack] = send_raw(mllp, b"\x0b" + raw + b"\x1c\r", expect=1)
    message = hl7.parse(ack)
    assert msa(message) == "AR" and str(message.segment("MSA")[2]) == "LIS202611230001"
    msh = message.segment("MSH")
    assert (str(msh[5]), str(msh[6]), str(msh[12])) == ("LIS", "DEMO-LIS", "2.4")
    assert "KOI8-R" in ack


def test_malformed_input_is_answered_and_the_listener_keeps_serving(mllp: MllpServer) -> None:
    good = b"\x0b" + fixture("adt_a04_register.hl7") + b"\x1c\r"
    no_msh = b"\x0bPID|1||123\r\x1c\r"
    bad_segment = b"\x0b" + fixture("adt_a04_register.hl7") + b"%%garbage\r\x1c\r"
    wrong_encoding = (
        b"\x0b"
        + fixture("exam_gb18030_oru_r01.hl7").replace(b"|GB18030", b"|UNICODE UTF-8")
        + b"\x1c\r"
    )
    truncated = b"\x0bMSH|^~\\&|LIS|X|||20260101||ORU^R01|T1|P|2.4\rPID|||1"
    huge = b"\x0b" + fixture("adt_a04_register.hl7") + b"NTE|1||" + b"x" * (70 * 1024) + b"\r\x1c\r"
    acks = send_raw(
        mllp, no_msh, bad_segment, wrong_encoding, truncated, good, huge, good, expect=7
    )
    codes = [msa(a) for a in acks]
    assert codes == ["AR", "AE", "AR", "AR", "AA", "AR", "AA"]
    assert "MSH" in acks[0]
    bad_err = next(s for s in acks[1].split("\r") if s.startswith("ERR"))
    assert "not an HL7 segment" in bad_err and "100" in bad_err
    assert "UNICODE UTF-8" in acks[2] or "utf-8" in acks[2]
    assert "not complete" in acks[3]
    assert str(hl7.parse(acks[3]).segment("MSA")[2]) == "T1"  # its MSH could be read
    assert "larger than" in acks[5]
    rejected = InboundMessage.objects.filter(accepted=False)
    # No MSH, bad segment, wrong encoding, the cut frame and the oversized one (its start):
    # all stored raw, rejected.
    assert rejected.count() == 5
    cut = rejected.get(control_id="T1")
    assert bytes(cut.raw) == truncated[1:] and cut.status == "rejected"
    oversized = rejected.get(error__contains="larger than")
    assert bytes(oversized.raw) == huge[1 : 1 + 64 * 1024]
    assert InboundMessage.objects.filter(status="received").count() == 1  # good, once
    assert msa(send(mllp, "adt_a08_update.hl7")) == "AA"
    # Only part of them arrived: never imported, not even when asked to process them again.
    for message in (cut, oversized):
        with pytest.raises(HL7Error, match="only part of this message arrived"):
            reprocess(message)
    assert not Observation.objects.exists() and not Patient.objects.exists()


def test_a_frame_cut_by_the_sender_hanging_up_is_stored(mllp: MllpServer) -> None:
    cut = b"\x0bMSH|^~\\&|LIS|X|||20260101||ORU^R01|H1CUT|P|2.4\rPID|||1"
    with socket.create_connection(("127.0.0.1", mllp.port), timeout=10) as sock:
        sock.sendall(cut)
    deadline = time.monotonic() + 10
    while not InboundMessage.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = InboundMessage.objects.get()
    assert (stored.control_id, stored.accepted, stored.status) == ("H1CUT", False, "rejected")
    assert bytes(stored.raw) == cut[1:] and "incomplete" in stored.error


def test_a_frame_left_incomplete_is_rejected_when_the_line_goes_quiet(mllp: MllpServer) -> None:
    acks = send_raw(mllp, b"\x0bMSH|^~\\&|LIS|X|||20260101||ORU^R01|T2|P|2.4\r", expect=1)
    assert [msa(a) for a in acks] == ["AR"]
    stored = InboundMessage.objects.get()
    assert (stored.control_id, stored.accepted) == ("T2", False)
    assert bytes(stored.raw).startswith(b"MSH|") and "incomplete" in stored.error


def test_the_public_normative_sample_is_refused_with_its_defect(mllp: MllpServer) -> None:
    ack = send(mllp, "public_ghh_lab_oru_r01.hl7")
    assert msa(ack) == "AE"
    assert "PID-7" in str(ack.segment("MSA")[3])
    assert msa(send(mllp, "public_ghh_lab_oru_r01_corrected.hl7")) == "AA"
    process_all()
    glucose = Observation.objects.get()
    assert (glucose.value, glucose.interpretation) == (182.0, "H")


def test_many_connections_at_once(mllp: MllpServer) -> None:
    template = fixture("adt_a04_register.hl7").decode()
    errors: list[str] = []

    def sender(worker: int) -> None:
        with MLLPClient("127.0.0.1", mllp.port) as client:
            for n in range(20):
                message = template.replace("HIS-A04-0001", f"C{worker}-{n}")
                code = msa(client.send_message(message))
                if code != "AA":
                    errors.append(code)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert InboundMessage.objects.count() == 160


def _result_for(person: int, control_id: str, *, with_id_number: bool = True) -> bytes:
    """The LIS fixture's result for demo person ``person`` (MRN MZ<person>)."""
    from careloop.demo.people import person as demo_person

    p = demo_person(person)
    ids = f"MZ{person:06d}^^^DEMO-H1^MR" + (f"~{p.id_number}^^^^NI" if with_id_number else "")
    pid = (
        f"PID|1||{ids}||{p.name[0]}^{p.name[1:]}||{p.birth_date:%Y%m%d}|"
        f"{'M' if p.sex == 'male' else 'F'}"
    )
    lines = fixture("lis_utf8_oru_r01.hl7").split(b"\r")
    lines[1] = pid.encode()
    text = b"\r".join(lines).replace(b"LIS202611230001", control_id.encode())
    return b"\x0b" + text.replace(b"RPT0001", control_id.encode()) + b"\x1c\r"


def test_processors_side_by_side_each_take_whole_patients_in_order(mllp: MllpServer) -> None:
    # Three messages each for eight people, interleaved as a LIS would send them; person 7's
    # carry only the record number.
    frames = [
        _result_for(person, f"P{person}-{round_}", with_id_number=person != 7)
        for round_ in range(3)
        for person in range(8)
    ]
    assert set(map(msa, send_raw(mllp, *frames, expect=24))) == {"AA"}
    shards: dict[str, set[int]] = {}
    for control_id, shard in InboundMessage.objects.values_list("control_id", "shard"):
        shards.setdefault(control_id.split("-")[0], set()).add(shard)
    assert all(len(found) == 1 for found in shards.values())  # a person's messages: one shard

    halves = [Part(0, 2), Part(1, 2)]
    claimed = [claim(limit=5, part=half) for half in halves]  # a first claim of each …
    claimed = [
        first + claim(limit=100, part=half) for first, half in zip(claimed, halves, strict=True)
    ]
    assert all(ids == sorted(ids) and ids for ids in claimed)  # … in the order received
    assert sorted(claimed[0] + claimed[1]) == sorted(
        InboundMessage.objects.values_list("pk", flat=True)
    )
    people = [
        {
            c.split("-")[0]
            for c in InboundMessage.objects.filter(pk__in=ids).values_list("control_id", flat=True)
        }
        for ids in claimed
    ]
    assert not people[0] & people[1] and len(people[0] | people[1]) == 8
    for ids in claimed:
        assert process_batch(ids).processed == len(ids)
    assert Patient.objects.count() == 8 and Observation.objects.count() == 24 * 5
    assert InboundMessage.objects.exclude(status="processed").count() == 0


def test_a_claim_searches_past_the_last_one_only_when_told(mllp: MllpServer) -> None:
    frames = [_result_for(person, f"A{person}") for person in range(3)]
    assert set(map(msa, send_raw(mllp, *frames, expect=3))) == {"AA"}
    first, second, third = InboundMessage.objects.order_by("id").values_list("pk", flat=True)
    assert claim(limit=1) == [first]
    assert claim(after=third) == []  # nothing waits above the last id claimed
    assert claim(after=first) == [second, third]


def test_a_patient_spelled_two_ways_is_one_shard() -> None:
    from careloop.interop.hl7.read import Identifier, PatientData
    from careloop.interop.ingest import SHARDS, shard_of

    def mrn(value: str, authority: str = "") -> PatientData:
        return PatientData(record_numbers=[Identifier(value, "MR", authority)])

    # Matching folds case and width and strips spaces; so does the shard.
    assert shard_of(mrn("mz001"), "LIS") == shard_of(mrn(" ＭＺ001"), "LIS")
    assert shard_of(mrn("MZ001", "LIS"), "OTHER") == shard_of(mrn("MZ001"), "LIS")
    assert shard_of(PatientData(id_number="11010119500315003x"), "LIS") == shard_of(
        PatientData(id_number="11010119500315003X"), "LIS"
    )
    assert shard_of(PatientData(passport="e 1234567"), "LIS") == shard_of(
        PatientData(passport="E1234567"), "LIS"
    )
    shards = {shard_of(mrn(f"MZ{n:03d}"), "LIS") for n in range(200)}
    assert len(shards) > 150 and max(shards) < SHARDS  # spread over the shards
    assert shard_of(PatientData(), "LIS") == 0


def test_messages_waiting_at_the_upgrade_get_their_patients_shards(mllp: MllpServer) -> None:
    import importlib

    from django.apps import apps

    frames = [_result_for(person, f"U{person}") for person in range(4)]
    assert set(map(msa, send_raw(mllp, *frames, expect=4))) == {"AA"}
    shards = dict(InboundMessage.objects.values_list("pk", "shard"))
    assert any(shards.values())
    InboundMessage.objects.update(shard=0)  # as stored before the shards came in
    migration = importlib.import_module(
        "careloop.interop.migrations.0005_shards_of_waiting_messages"
    )
    migration.shard_waiting(apps, None)
    assert dict(InboundMessage.objects.values_list("pk", "shard")) == shards


def test_a_part_is_named_processor_k_of_n() -> None:
    from django.core.management import CommandError, call_command

    assert Part.parse("1/3") == Part(1, 3)
    for wrong in ("3/3", "x/2", "1", "-1/2"):
        with pytest.raises(ValueError, match=r"0/2|does not exist"):
            Part.parse(wrong)
    with pytest.raises(CommandError, match="processor 2 of 2 does not exist"):
        call_command("process_inbound", "--part", "2/2")


def test_admission_discharge_registration_and_update(mllp: MllpServer) -> None:
    for name in (
        "adt_a01_admit.hl7",
        "adt_a03_discharge.hl7",
        "adt_a04_register.hl7",
        "adt_a08_update.hl7",
    ):
        assert msa(send(mllp, name)) == "AA", name
    result = process_all()
    assert (result.processed, result.failed) == (4, 0)
    inpatient = Patient.objects.get(name="李国强")
    stay = Encounter.objects.get(patient=inpatient)
    assert (stay.kind, stay.status, stay.department) == ("inpatient", "finished", "心内科")
    assert stay.ended_at is not None and stay.ended_at > stay.started_at
    assert sorted(
        Condition.objects.filter(patient=inpatient).values_list("icd10_code", flat=True)
    ) == ["I10", "I50.9"]
    registered = Patient.objects.get(name="赵丽")
    assert registered.phone == "15099998888"  # A08 replaced the A04 number
    assert registered.address == "湖北省武汉市建设路66号"


def test_a_diagnosis_is_checked_as_a_fhir_condition_is(mllp: MllpServer) -> None:
    """DG1-3 must be an ICD-10 code, named in DG1-3.2 or DG1-4 when the catalogue does not
    know it: else AE with an ERR naming DG1-3, and nothing is imported."""
    discharge = fixture("adt_a03_discharge.hl7").decode()
    second = "DG1|2||I10^原发性高血压^I10|原发性高血压|20261110|F"

    def sent(n: int, dg1: str) -> hl7.Message:
        text = discharge.replace(second, dg1).replace("HIS-A03-0001", f"HIS-A03-DG{n}")
        with MLLPClient("127.0.0.1", mllp.port, encoding="utf-8") as client:
            return hl7.parse(client.send_message(text))

    refused = {
        "DG1|2||ZZZ.ZZ^^I10": "ZZZ.ZZ is not an ICD-10 code",
        "DG1|2||ZZZ.ZZ^某病^I10|某病": "ZZZ.ZZ is not an ICD-10 code",
        "DG1|2||Q99.9^^I10||20261110": "Q99.9 is not in the catalogue",
    }
    for n, (dg1, problem) in enumerate(refused.items()):
        ack = sent(n, dg1)
        assert msa(ack) == "AE", dg1
        err = str(ack.segment("ERR"))
        assert "DG1^2^3" in err and problem in err, err  # the second DG1, its field 3
    kept_as_sent = (
        "DG1|2||Q99.9^某罕见病^I10",
        "DG1|2||Q99.8^^I10|另一罕见病",
        # The national clinical edition's codes (国家临床版 2.0), as Chinese HIS send them.
        "DG1|2||I10.x00x002^^ICD10-GB",
        "DG1|2||E11.900^^ICD10-GB",
    )
    for n, dg1 in enumerate(kept_as_sent, 5):
        assert msa(sent(n, dg1)) == "AA", dg1
    assert process_all().failed == 0
    kept = dict(Condition.objects.values_list("icd10_code", "name"))
    assert kept == {
        "I50.9": "心力衰竭",
        "Q99.9": "某罕见病",
        "Q99.8": "另一罕见病",
        "I10.X00X002": "原发性高血压",  # named by its category in the catalogue
        "E11.900": "2型糖尿病",
    }


def test_a_failed_message_is_kept_and_reprocessed_without_duplicates(
    mllp: MllpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(mllp, "lis_utf8_oru_r01.hl7")
    from careloop.interop import batch, processing

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database hiccup")

    with monkeypatch.context() as patch:  # both the batch path and the one-by-one fallback
        patch.setattr(batch.BulkInsert, "execute", broken)
        patch.setattr(processing, "do_record_results", broken)
        assert process_all(fast=False).failed == 1
    message = InboundMessage.objects.get()
    assert message.status == "failed" and "hiccup" in message.error
    assert not Observation.objects.exists() and not Patient.objects.exists()
    assert reprocess(message).processed == 1
    assert reprocess(InboundMessage.objects.get()).processed == 1  # again: replaces, not adds
    assert Observation.objects.count() == 5 and DiagnosticReport.objects.count() == 1


def test_a_message_refused_for_its_encoding_is_taken_once_the_senders_default_is_set(
    mllp: MllpServer, hospital_org: Organisation
) -> None:
    """A message valid in neither UTF-8 nor GB18030 (no MSH-18) is refused AR, kept, shown
    as far as it can be read, and taken by reprocessing once the bytes that could not be read
    are the sender's to fix (here: the administrator corrected the stored copy's source)."""
    good = fixture("exam_gb18030_oru_r01.hl7").replace(b"|GB18030\r", b"|\r", 1)
    raw = good.replace("陈".encode("gb18030"), b"\xff\xfe", 1)
    [ack] = send_raw(mllp, b"\x0b" + raw + b"\x1c\r", expect=1)
    assert msa(ack) == "AR"  # not UTF-8, not GB18030, and no MSH-18 to say otherwise
    assert "cannot be decoded" in ack
    stored = InboundMessage.objects.get()
    staff = UserFactory(organisation=hospital_org)
    staff.user_permissions.add(*Permission.objects.filter(codename="view_inboundmessage"))
    client = Client()
    client.force_login(staff)
    page = client.get(f"/interop/messages/{stored.pk}/").content.decode()
    assert "秀英" in page  # the rest read as GB18030, the bad bytes replaced
    out = io.StringIO()
    call_command("inbound", "show", str(stored.pk), stdout=out)
    assert "秀英" in out.getvalue()
    assert not stored.message_type and not stored.control_id  # refused before reading MSH
    InboundMessage.objects.filter(pk=stored.pk).update(raw=good)
    stored.refresh_from_db()
    assert reprocess(stored).processed == 1
    assert Patient.objects.get().name == "陈秀英"
    stored.refresh_from_db()  # what it is, now it has been read (the lists showed blanks)
    assert (stored.message_type, stored.encoding) == ("ORU^R01", "gb18030")
    assert stored.control_id and stored.version


def test_reprocessing_a_critical_result_does_not_alert_twice(mllp: MllpServer) -> None:
    send(mllp, "lis_utf8_oru_r01.hl7")
    process_all()
    assert Alert.objects.filter(kind="critical_value").count() == 1
    reprocess(InboundMessage.objects.get())
    alert = Alert.objects.get(kind="critical_value")  # still one, for the new observation
    assert alert.observation is not None and alert.observation.local_code == "K"
    assert "6.8" in alert.reason


def test_reprocessing_while_another_import_has_the_patient_says_it_waits(
    mllp: MllpServer, hospital_org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from io import StringIO

    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.test import Client

    from tests.factories import UserFactory

    assert msa(send(mllp, "adt_a04_register.hl7")) == "AA"
    assert process_all().processed == 1
    message = InboundMessage.objects.get()

    def busy(self: patient_locks.Taker, patient_id: int) -> None:
        raise patient_locks.PatientBusy(f"patient {patient_id}")

    monkeypatch.setattr(patient_locks.Taker, "take", busy)
    staff = UserFactory(organisation=hospital_org)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_inboundmessage", "change_inboundmessage"])
    )
    client = Client()
    client.force_login(staff)
    page = client.post(f"/interop/messages/{message.pk}/reprocess/", follow=True)
    assert "另一项导入正在更新该患者" in page.content.decode()
    assert "再次处理失败" not in page.content.decode()
    message.refresh_from_db()
    assert (message.status, message.error) == ("received", "")  # waiting, not failed
    out = StringIO()
    call_command("inbound", "reprocess", str(message.pk), stdout=out)
    assert out.getvalue().strip() == (
        f"{message.pk}: received (waiting: another import has its patient; imported shortly)"
    )
    monkeypatch.undo()
    assert process_batch(claim()).processed == 1  # the processors import it


def test_a_batch_holds_its_known_patients_from_reading_their_record_to_the_commit(
    mllp: MllpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert msa(send_raw(mllp, _result_for(1, "FIRST"), expect=1)[0]) == "AA"
    assert process_batch(claim()).processed == 1  # enrols person 1
    known = Patient.objects.get().pk
    events: list[str] = []
    held: list[list[int]] = []

    @contextlib.contextmanager
    def holding(patient_ids: Iterable[int]) -> Iterator[None]:
        held.append(list(patient_ids))
        events.append("lock")
        yield
        assert not connection.in_atomic_block  # let go after the commit
        events.append("unlock")

    def spy(name: str) -> None:
        original = getattr(batch.BatchImporter, name)

        def wrapped(self: batch.BatchImporter, *args: object) -> object:
            events.append(name)
            if name == "_write":
                assert connection.in_atomic_block  # the write transaction …
            return original(self, *args)

        monkeypatch.setattr(batch.BatchImporter, name, wrapped)

    monkeypatch.setattr(batch.patient_locks, "holding", holding)
    for name in ("_evaluate_rules", "_write", "_apply_rules"):
        spy(name)
    sent = [_result_for(1, "AGAIN"), _result_for(2, "NEW")]
    assert set(map(msa, send_raw(mllp, *sent, expect=2))) == {"AA"}
    result = process_batch(claim())
    assert result.processed == 2 and result.fell_back == 0
    # … and the rules' reading of the record inside the lock; the new person (no record
    # yet, nobody else's) needs none.
    assert events == ["lock", "_evaluate_rules", "_write", "_apply_rules", "unlock"]
    assert held == [[known]]


def test_a_batch_whose_patient_stays_locked_is_put_back_to_wait(
    mllp: MllpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert msa(send_raw(mllp, _result_for(1, "FIRST"), expect=1)[0]) == "AA"
    assert process_batch(claim()).processed == 1

    @contextlib.contextmanager
    def stuck(patient_ids: Iterable[int]) -> Iterator[None]:
        raise patient_locks.PatientBusy("patient lock")
        yield  # pragma: no cover

    monkeypatch.setattr(batch.patient_locks, "holding", stuck)
    assert msa(send_raw(mllp, _result_for(1, "AGAIN"), expect=1)[0]) == "AA"
    result = process_batch(claim())
    assert (result.put_back, result.processed, result.fell_back) == (1, 0, 0)
    again = InboundMessage.objects.get(control_id="AGAIN")
    assert (again.status, again.claimed_at) == ("received", None)  # not imported alone
    assert Observation.objects.filter(source_message=again).count() == 0
    monkeypatch.undo()
    assert process_batch(claim()).processed == 1  # claimed and imported later


def test_an_update_whose_patient_another_processor_has_is_put_back_to_wait(
    mllp: MllpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert msa(send(mllp, "adt_a04_register.hl7")) == "AA"
    assert process_all().processed == 1
    registered = Patient.objects.get(name="赵丽")

    def busy(self: patient_locks.Taker, patient_id: int) -> None:
        assert patient_id == registered.pk
        raise patient_locks.PatientBusy(f"patient {patient_id}")

    monkeypatch.setattr(patient_locks.Taker, "take", busy)
    assert msa(send(mllp, "adt_a08_update.hl7")) == "AA"
    result = process_batch(claim())  # an update goes the one-by-one way
    assert (result.put_back, result.processed, result.failed) == (1, 0, 0)
    update = InboundMessage.objects.get(message_type__startswith="ADT^A08")
    assert (update.status, update.attempts) == ("received", 0)  # not failed: later
    registered.refresh_from_db()
    assert registered.phone != "15099998888"
    monkeypatch.undo()
    assert process_batch(claim()).processed == 1
    registered.refresh_from_db()
    assert registered.phone == "15099998888"


def test_a_blood_pressure_sent_as_one_value_is_read_as_its_two_pressures(
    mllp: MllpServer,
) -> None:
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    head = text[: text.index("OBX|1|")]
    exam = head + "OBX|1|ST|85354-9^血压^LN||186/112|mmHg|||||F|||20261123221500\r"
    [ack] = send_raw(mllp, b"\x0b" + exam.encode() + b"\x1c\r", expect=1)
    assert msa(ack) == "AA"
    assert process_all().observations == 3
    rows = {o.code: o for o in Observation.objects.all()}
    assert rows["85354-9"].display_value == "186/112"  # as sent, kept
    assert (rows["8480-6"].value, rows["8462-4"].value) == (186, 112)
    assert rows["8480-6"].interpretation in ("H", "HH")
    assert rows["8462-4"].unit == "mmHg" and rows["8462-4"].interpretation in ("H", "HH")
    # Imported again one by one (after a fix), the same rows.
    reprocess(InboundMessage.objects.get())
    assert sorted(Observation.objects.values_list("code", "value")) == sorted(
        [("85354-9", None), ("8480-6", 186.0), ("8462-4", 112.0)]
    )


def _ordinary(frame: bytes) -> bytes:
    """The LIS fixture's result without its critical potassium."""
    return frame.replace(b"|6.8|mmol/L|3.5-5.3|HH|", b"|4.2|mmol/L|3.5-5.3|N|")


def test_a_critical_value_is_taken_before_the_backlog_with_its_patients_messages(
    mllp: MllpServer,
) -> None:
    frames = [_ordinary(_result_for(person, f"B{person}-0")) for person in range(6)]
    frames += [_ordinary(_result_for(2, "B2-1")), _result_for(2, "B2-2")]  # potassium 6.8
    frames += [_ordinary(_result_for(person, f"B{person}-1")) for person in (0, 1)]
    assert set(map(msa, send_raw(mllp, *frames, expect=len(frames)))) == {"AA"}
    urgent = InboundMessage.objects.get(urgent=True)
    assert urgent.control_id == "B2-2"

    taken = claim_urgent()
    by_id = dict(InboundMessage.objects.values_list("pk", "control_id"))
    controls = [by_id[pk] for pk in taken]
    # Person 2's messages, in the order received (and those of anyone sharing the shard).
    assert [c for c in controls if c.startswith("B2-")] == ["B2-0", "B2-1", "B2-2"]
    shards = set(InboundMessage.objects.filter(pk__in=taken).values_list("shard", flat=True))
    assert shards == {urgent.shard}
    assert claim_urgent() == []  # nothing critical waits now
    assert process_batch(taken).processed == len(taken)
    assert Alert.objects.get().observation.patient.identifiers.get().value == "MZ000002"

    rest = claim(limit=100)
    assert sorted(taken + rest) == sorted(by_id)  # the backlog, all of it, after
    assert process_batch(rest).processed == len(rest)
    assert InboundMessage.objects.exclude(status="processed").count() == 0


def _processor_batches(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Run the processor loop until nothing waits; the control ids of each batch it took."""
    from careloop.interop import processing

    batches: list[list[str]] = []
    real = processing.process_batch
    stop = threading.Event()

    def recorded(ids: list[int], context: Any = None) -> Any:
        by_id = dict(InboundMessage.objects.filter(pk__in=ids).values_list("pk", "control_id"))
        batches.append([by_id[pk] for pk in ids])
        result = real(ids, context)
        if not InboundMessage.objects.filter(status="received").exists():
            stop.set()
        return result

    monkeypatch.setattr(processing, "process_batch", recorded)
    thread = threading.Thread(target=processing.run_forever, args=(stop,), kwargs={"poll": 0.01})
    thread.start()
    assert stop.wait(30)
    thread.join(10)
    return batches


def test_the_processor_takes_a_critical_value_first(
    mllp: MllpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [_ordinary(_result_for(person, f"Q{person}")) for person in range(5)]
    frames.append(_result_for(3, "Q3-K"))  # potassium 6.8, behind the others
    assert set(map(msa, send_raw(mllp, *frames, expect=len(frames)))) == {"AA"}
    batches = _processor_batches(monkeypatch)
    assert [c for c in batches[0] if c.startswith("Q3")] == ["Q3", "Q3-K"]
    assert "Q0" not in batches[0]  # ahead of it in the queue, another patient's: after
    assert sorted(c for batch in batches for c in batch) == sorted(
        ["Q0", "Q1", "Q2", "Q3", "Q4", "Q3-K"]
    )


def test_a_blood_pressure_sent_also_as_its_two_pressures_is_stored_once(
    mllp: MllpServer,
) -> None:
    """An exam system sending 血压 186/112 and the two pressures alone: each pressure one
    row (a second at the same time would be a second reading to the rules)."""
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    head = text[: text.index("OBX|1|")]
    exam = (
        head
        + "OBX|1|ST|85354-9^血压^LN||186/112|mmHg|||||F|||20261123221500\r"
        + "OBX|2|NM|8480-6^收缩压^LN||186|mmHg|||||F|||20261123221500\r"
        + "OBX|3|NM|8462-4^舒张压^LN||112|mmHg|||||F|||20261123221500\r"
    )
    [ack] = send_raw(mllp, b"\x0b" + exam.encode() + b"\x1c\r", expect=1)
    assert msa(ack) == "AA"
    assert process_all().observations == 3
    assert sorted(Observation.objects.values_list("code", "value")) == sorted(
        [("85354-9", None), ("8480-6", 186.0), ("8462-4", 112.0)]
    )
    reprocess(InboundMessage.objects.get())  # one by one: the same
    assert Observation.objects.count() == 3


def test_a_blood_pressure_sent_in_kpa_is_not_read_as_mmhg(mllp: MllpServer) -> None:
    """18.6/11.2 kPa (a normal blood pressure): its pressures kept in kPa; read as 18.6 mmHg
    they were graded low (below 90 mmHg) and drawn on the mmHg trend."""
    text = fixture("lis_utf8_oru_r01.hl7").decode()
    head = text[: text.index("OBX|1|")]
    exam = head + "OBX|1|ST|85354-9^血压^LN||18.6/11.2|kPa|||||F|||20261123221500\r"
    [ack] = send_raw(mllp, b"\x0b" + exam.encode() + b"\x1c\r", expect=1)
    assert msa(ack) == "AA"
    process_all()
    systolic = Observation.objects.get(code="8480-6")
    assert (systolic.value, systolic.unit) == (18.6, "kPa")
    assert systolic.interpretation not in ("L", "LL") and systolic.value_normalised is None
    assert not Alert.objects.exists()


def test_a_stream_of_critical_values_does_not_hold_up_the_others(
    mllp: MllpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ordinary claim comes when it is due even while critical values wait."""
    from careloop.interop import processing

    frames = [_result_for(3, "S3-K"), _ordinary(_result_for(0, "S0")), _result_for(4, "S4-K")]
    assert set(map(msa, send_raw(mllp, *frames, expect=len(frames)))) == {"AA"}
    monkeypatch.setattr(processing, "URGENT_SHARDS", 1)  # one critical patient a claim
    monkeypatch.setattr(processing, "ORDINARY_EVERY", 0.0)  # an ordinary claim always due
    batches = _processor_batches(monkeypatch)
    assert "S0" in batches[0]  # the ordinary claim due, though critical values wait


def test_reprocess_clicked_twice_imports_the_message_once(
    mllp: MllpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a stored result, when "reprocess" is clicked twice (the second while the first
    is importing it), then its results are stored once and the second click is told the
    message is being imported."""
    from careloop.interop import processing

    send(mllp, "lis_utf8_oru_r01.hl7")
    process_all()
    message = InboundMessage.objects.get()
    import_ = processing.process_batch
    second: list[object] = []

    def clicked_again_meanwhile(ids: Any, context: Any = None) -> Any:
        if not second:
            second.append(None)
            try:
                second[0] = processing.reprocess(InboundMessage.objects.get())
            except processing.BeingImported as busy:
                second[0] = busy
        return import_(ids, context)

    monkeypatch.setattr(processing, "process_batch", clicked_again_meanwhile)
    assert processing.reprocess(message).processed == 1
    assert Observation.objects.count() == 5 and DiagnosticReport.objects.count() == 1
    assert Alert.objects.filter(kind="critical_value").count() == 1
    assert isinstance(second[0], processing.BeingImported)


def _potassium(
    control_id: str, status: str, value: str, *, observed: str = "20261123221500"
) -> bytes:
    """The LIS sample's report RPT0001 sent again: its potassium alone, with OBX-11 ``status``."""
    header, pid, pv1, orc, obr, *_ = fixture("lis_utf8_oru_r01.hl7").decode().split("\r")
    header = header.replace("LIS202611230001", control_id)
    obr = obr.replace("20261123221500", observed).replace("|||F", f"|||{status}")
    flag = "HH" if float(value or 0) > 6.2 else ""
    obx = f"OBX|1|NM|K^钾^L||{value}|mmol/L|3.5-5.3|{flag}|||{status}|||{observed}"
    return b"\x0b" + "\r".join([header, pid, pv1, orc, obr, obx, ""]).encode() + b"\x1c\r"


def test_a_corrected_result_replaces_the_one_it_corrects(mllp: MllpServer) -> None:
    """A potassium of 6.8 the laboratory corrected to 4.2 (OBX-11 C, the same report RPT0001)
    stayed on the record beside its correction with its critical-value alert open; a
    preliminary result and its final one were two results with two alerts."""
    assert msa(send(mllp, "lis_utf8_oru_r01.hl7")) == "AA"
    process_all()
    assert Alert.objects.filter(status="open").count() == 1  # the potassium of 6.8
    [ack] = send_raw(mllp, _potassium("K-C1", "C", "4.2"), expect=1)
    assert msa(ack) == "AA"
    process_all()
    [potassium] = Observation.objects.filter(local_code="K")
    assert (potassium.value, potassium.status, potassium.critical) == (4.2, "corrected", False)
    assert not Alert.objects.exists()  # nobody is called for a value the laboratory withdrew
    # the report's other results stay; the raw messages keep what was sent each time
    assert Observation.objects.count() == 5 and InboundMessage.objects.count() == 2
    # preliminary then final: one result, one alert; an alert already picked up is kept
    [ack] = send_raw(mllp, _potassium("K-P", "P", "6.9"), expect=1)
    process_all()
    Alert.objects.update(status="acknowledged")
    [ack] = send_raw(mllp, _potassium("K-F", "F", "6.9"), expect=1)
    process_all()
    [potassium] = Observation.objects.filter(local_code="K")
    assert (potassium.value, potassium.status, potassium.critical) == (6.9, "final", True)
    kept, new = Alert.objects.order_by("id")
    assert kept.status == "acknowledged" and kept.observation is None
    # whoever handles it is told on the alert that its value is gone
    assert "检验科已重新发送此结果" in kept.events.get(action="note").note
    assert new.status == "open" and new.observation == potassium
    # withdrawn (X): the value is gone from the record, the cancellation kept
    [ack] = send_raw(mllp, _potassium("K-X", "X", ""), expect=1)
    process_all()
    [potassium] = Observation.objects.filter(local_code="K")
    assert (potassium.value, potassium.status) == (None, "cancelled")


def test_an_alert_being_handled_is_told_to_the_webhook_when_its_result_is_sent_again(
    mllp: MllpServer,
) -> None:
    hook = WebhookEndpoint.objects.create(
        name="集成平台", url="http://127.0.0.1:9/hook", events=["alert.updated"]
    )
    send_raw(mllp, _potassium("K-P", "P", "6.9"), expect=1)
    process_all()
    Alert.objects.update(status="acknowledged")
    send_raw(mllp, _potassium("K-F", "F", "6.9"), expect=1)
    process_all()
    [delivery] = hook.deliveries.all()
    change = delivery.payload["data"]["change"]
    assert change["action"] == "note" and "检验科已重新发送此结果" in change["note"]
    assert delivery.payload["data"]["alert"]["status"] == "acknowledged"


def test_an_alert_nobody_picked_up_is_told_withdrawn_when_its_result_is(
    mllp: MllpServer,
) -> None:
    """A critical potassium withdrawn by the laboratory (OBX-11 X) before anyone picked its
    alert up: the alert was deleted with no event, the receiver's copy left open."""
    hook = WebhookEndpoint.objects.create(
        name="集成平台", url="http://127.0.0.1:9/hook", events=["alert.created", "alert.updated"]
    )
    send_raw(mllp, _potassium("K-F", "F", "6.9"), expect=1)
    process_all()
    [created] = hook.deliveries.filter(event="alert.created")
    alert_id = created.payload["data"]["alert"]["id"]
    send_raw(mllp, _potassium("K-X", "X", ""), expect=1)
    process_all()
    assert not Alert.objects.exists()
    [updated] = hook.deliveries.filter(event="alert.updated")
    data = updated.payload["data"]
    assert data["alert"]["id"] == alert_id and data["alert"]["status"] == "withdrawn"
    change = data["change"]
    assert (change["action"], change["from_status"], change["to_status"]) == (
        "withdrawn",
        "open",
        "withdrawn",
    )
    assert "检验科已重新发送此结果" in change["note"]


def test_a_result_and_its_correction_waiting_together_are_imported_in_order(
    mllp: MllpServer,
) -> None:
    acks = send_raw(mllp, _potassium("K-F", "F", "6.9"), _potassium("K-C", "C", "4.2"), expect=2)
    assert [msa(a) for a in acks] == ["AA", "AA"]
    process_all(fast=False)
    [potassium] = Observation.objects.filter(local_code="K")
    assert (potassium.value, potassium.status) == (4.2, "corrected")
    assert not Alert.objects.filter(status="open").exists()


def test_a_sample_number_used_again_another_day_is_another_order(mllp: MllpServer) -> None:
    """Sample numbers that start again each day: yesterday's result is not replaced."""
    send_raw(mllp, _potassium("K-D1", "F", "4.1", observed="20261122081500"), expect=1)
    send_raw(mllp, _potassium("K-D2", "F", "4.4", observed="20261123081500"), expect=1)
    process_all()
    assert sorted(Observation.objects.values_list("value", flat=True)) == [4.1, 4.4]


def test_a_message_behind_a_byte_order_mark_is_taken(mllp: MllpServer) -> None:
    """A Windows HIS writing UTF-8 with a byte order mark: the message was refused AR ("does
    not start with an MSH segment") and its ACK named no control id to resend."""
    raw = b"\xef\xbb\xbf" + fixture("lis_utf8_oru_r01.hl7")
    [ack] = send_raw(mllp, b"\x0b" + raw + b"\x1c\r", expect=1)
    assert msa(ack) == "AA" and str(hl7.parse(ack).segment("MSA")[2]) == "LIS202611230001"
    stored = InboundMessage.objects.get()
    assert bytes(stored.raw) == raw and stored.sending_facility == "DEMO-LIS"
    assert process_all().observations == 5


def test_a_result_reprocessed_after_its_correction_does_not_replace_it(
    mllp: MllpServer,
) -> None:
    send_raw(mllp, _potassium("K-F", "F", "6.9"), expect=1)
    send_raw(mllp, _potassium("K-C", "C", "4.2"), expect=1)
    process_all(fast=False)
    reprocess(InboundMessage.objects.get(control_id="K-F"))  # the older one again
    assert sorted(Observation.objects.values_list("value", "status")) == [
        (4.2, "corrected"),
        (6.9, "final"),
    ]


def test_frames_ended_by_fs_alone_are_taken(mllp: MllpServer) -> None:
    """A sender ending its frames with <FS> and no <CR>: each was answered AR "not complete"
    (the first when the next began, the last after the line had been quiet 30 s), for ever.
    A frame is now whole when the next <VT> follows its <FS>, or the line goes quiet."""
    first = fixture("lis_utf8_oru_r01.hl7")
    second = fixture("adt_a04_register.hl7")
    acks = send_raw(mllp, b"\x0b" + first + b"\x1c" + b"\x0b" + second + b"\x1c", expect=2)
    assert [msa(a) for a in acks] == ["AA", "AA"], acks
    assert {bytes(m.raw) for m in InboundMessage.objects.all()} == {first, second}
    assert process_all(fast=False).processed == 2
