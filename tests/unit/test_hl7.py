"""HL7 v2 decoding, parsing, reading and acknowledgements, on the fixture messages."""

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import pytest

from careloop.interop.hl7.ack import build_ack
from careloop.interop.hl7.message import HL7Error, decode, parse
from careloop.interop.hl7.read import read

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def load(name: str, default: str = "utf-8") -> tuple[str, str]:
    return decode((FIXTURES / name).read_bytes(), default)


def test_the_chinese_lis_message_reads_in_full() -> None:
    text, codec = load("lis_utf8_oru_r01.hl7")
    assert codec == "utf-8"
    message = parse(text)
    assert (message.message_type, message.control_id, message.version) == (
        "ORU^R01",
        "LIS202611230001",
        "2.4",
    )
    data = read(message)
    assert data.patient.name == "王建国"
    assert data.patient.id_number == "11010119500315003X"
    assert (data.patient.sex, data.patient.birth_date) == ("male", date(1950, 3, 15))
    assert data.patient.phone == "13800138000"
    assert data.patient.address == "北京市东城区幸福路18号3单元"
    assert [(i.value, i.authority) for i in data.patient.record_numbers] == [
        ("MZ00012345", "DEMO-H1")
    ]
    [order] = data.orders
    assert order.filler_number == "RPT0001" and order.name == "生化全套"
    assert [r.code for r in order.results] == ["GLU", "K", "NA", "CREA", "HBSAG"]
    potassium = order.results[1]
    assert (potassium.value, potassium.unit, potassium.reference, potassium.flags) == (
        6.8,
        "mmol/L",
        "3.5-5.3",
        "HH",
    )
    assert potassium.notes == ["标本轻度溶血，请结合临床"]
    assert potassium.observed_at == datetime(2026, 11, 23, 22, 15, tzinfo=SHANGHAI)
    assert order.results[4].value is None and order.results[4].text == "阴性"
    assert order.results[4].notes == ["报告已审核"]


def test_gb18030_is_decoded_from_msh_18() -> None:
    raw = (FIXTURES / "exam_gb18030_oru_r01.hl7").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text, codec = decode(raw, "utf-8")
    assert codec == "gb18030"
    data = read(parse(text))
    assert data.patient.name == "陈秀英"
    assert [i.value for i in data.patient.exam_numbers] == ["TJ2026008888"]
    assert len(data.orders) == 2
    hba1c = data.orders[1].results[1]
    assert (hba1c.code, hba1c.value, hba1c.comparator) == ("4548-4", 4.0, "<")
    assert hba1c.notes == ["建议内分泌科复诊"]  # an NTE after an OBX belongs to that result


def test_a_source_default_encoding_applies_without_msh_18() -> None:
    raw = (FIXTURES / "exam_gb18030_oru_r01.hl7").read_bytes().replace(b"|GB18030", b"|")
    text, codec = decode(raw, "gb18030")
    assert codec == "gb18030" and "陈" in text
    # Not UTF-8, the default of a sender not set up: read strictly as GB18030, as Chinese
    # laboratory systems that leave MSH-18 empty write it.
    assert decode(raw, "utf-8") == (text, "gb18030")
    utf8 = raw.decode("gb18030").encode()
    assert decode(utf8, "gb18030") == (text, "utf-8")  # and the other way round
    with pytest.raises(HL7Error) as error:  # valid in neither
        decode(raw.replace("陈".encode("gb18030"), b"\xff\xfe", 1), "utf-8")
    assert error.value.reject and error.value.field == 18


def test_escapes_and_offsets_in_v251() -> None:
    data = read(parse(load("ehr_v251_oru_r01.hl7")[0]))
    note = data.orders[0].results[2]
    assert note.text == "头晕\n伴恶心，收缩压|舒张压见上"
    assert data.sent_at is not None and data.sent_at.utcoffset().total_seconds() == 8 * 3600
    assert data.orders[0].results[0].unit == "mm[Hg]"


def test_adt_discharge_carries_diagnoses_and_times() -> None:
    data = read(parse(load("adt_a03_discharge.hl7")[0]))
    assert data.event == "A03"
    assert data.visit is not None and data.visit.visit_number == "ZY20261101001"
    assert data.visit.discharged_at == datetime(2026, 11, 10, 15, 0, tzinfo=SHANGHAI)
    assert [(d.code, d.name) for d in data.diagnoses] == [
        ("I50.9", "心力衰竭"),
        ("I10", "原发性高血压"),
    ]


def test_the_public_normative_sample_is_malformed_and_says_where() -> None:
    message = parse(load("public_ghh_lab_oru_r01.hl7")[0])
    with pytest.raises(HL7Error) as error:
        read(message)
    assert (error.value.segment, error.value.field, error.value.code) == ("PID", 7, 102)
    corrected = read(parse(load("public_ghh_lab_oru_r01_corrected.hl7")[0]))
    assert corrected.patient.name == "EVE EVERYWOMAN"
    glucose = corrected.orders[0].results[0]
    assert (glucose.value, glucose.unit, glucose.flags) == (182.0, "mg/dl", "H")


def test_our_parser_agrees_with_python_hl7() -> None:
    text = load("lis_utf8_oru_r01.hl7")[0]
    theirs = hl7.parse(text)
    ours = parse(text)
    for index, segment in enumerate(ours.segments):
        assert str(theirs[index][0]) == segment.name
    assert str(theirs.segment("MSH")[10]) == ours.control_id
    assert str(theirs.segments("OBX")[1][5]) == ours.all("OBX")[1][5]


@pytest.mark.parametrize(
    ("text", "code", "reject"),
    [
        ("PID|1||123", 100, True),  # no MSH
        ("MSH|^~\\&|A|B|C|D|20260101||ORU^R01||P|2.4", 101, True),  # no control id
        ("MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.7", 203, True),  # unsupported version
        ("MSH|^~\\&|A|B|C|D|20260101||SIU^S12|1|P|2.4", 200, True),  # unsupported type
        (
            "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\rPID|||X||张^三||19500101|M\r"
            "OBX|1|NM|GLU||5.1",
            100,
            False,
        ),  # OBX before OBR
        (
            "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\rPID|||X||张^三||19500101|M\r"
            "OBR|1\rOBX|1|NM|GLU^葡萄糖||五点一",
            102,
            False,
        ),  # NM not a number
        (
            "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\rPID|||110101195003150031^^^^NI||张^三\r"
            "OBR|1\rOBX|1|NM|GLU||5.1",
            102,
            False,
        ),  # typed resident ID with a bad check digit
        (
            "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\rPID|||X||张^三||19500101|M\r"
            "OBR|1\rOBX|1|NM|GLU||5.1\rbad segment",
            100,
            False,
        ),  # garbage line
    ],
)
def test_malformed_messages_name_their_problem(text: str, code: int, reject: bool) -> None:
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert error.value.code == code
    assert error.value.reject is reject
    assert str(error.value)


@pytest.mark.parametrize(
    ("pid", "field"),
    [("PID|||X||张^三|||M", 7), ("PID|||X||张^三||19500101", 8), ("PID|||X||||19500101|M", 5)],
)
def test_a_pid_that_cannot_register_a_patient_says_what_it_lacks(pid: str, field: int) -> None:
    """Read all the same (a patient enrolled under the identifier needs none of it); what
    registering a new patient lacks is kept for the listener's answer."""
    text = f"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r{pid}\rOBR|1\rOBX|1|NM|GLU||5.1"
    gap = read(parse(text)).patient.unregistrable
    assert gap is not None and (gap.code, gap.field) == (101, field)
    assert f"PID-{field}" in str(gap) and not gap.reject


@pytest.mark.parametrize("offset", ["+9999", "+2400", "-1260"])
def test_a_time_with_an_impossible_offset_names_its_field(offset: str) -> None:
    """An offset past ±24 h (or with 60 minutes) was a ValueError: an AE 207 "could not be
    read (ValueError)" that named nothing."""
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\rPID|||X||张^三||19500101|M\r"
        f"OBR|1\rOBX|1|NM|GLU^葡萄糖||5.1||||||F|||20260101100000{offset}"
    )
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert (error.value.code, error.value.segment, error.value.field) == (102, "OBX", 14)
    assert f"OBX-14: '20260101100000{offset}'" in str(error.value)


def test_a_nul_character_is_refused_naming_its_field() -> None:
    """A NUL in PID-5 was acknowledged AA: SQLite stored '张\\x00三' as the patient's name,
    PostgreSQL (whose text cannot hold it) failed the import."""
    text = "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\rPID|||X||张\x00^三||19500101|M\rOBR|1"
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert (error.value.code, error.value.segment, error.value.field) == (102, "PID", 5)
    assert str(error.value).startswith("PID-5: a NUL character")


@pytest.mark.parametrize(
    ("field", "segments"),
    [
        ("OBX-14", "OBR|1\rOBX|1|NM|GLU^葡萄糖||5.1||||||F|||00010101000000"),
        ("OBR-7", "OBR|1||||||00010101\rOBX|1|NM|GLU^葡萄糖||5.1"),
    ],
)
def test_a_time_before_1900_is_refused_naming_its_field(field: str, segments: str) -> None:
    """Year 1 (a blank date field's) was acknowledged AA, then failed to import with "date
    value out of range" (in UTC it falls before year 1), naming nothing."""
    text = f"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\rPID|||X||张^三||19500101|M\r{segments}"
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert error.value.code == 102 and str(error.value).startswith(f"{field}: ")
    assert "before 1900" in str(error.value)


@pytest.mark.parametrize(
    ("birth", "problem"), [("20991231", "in the future"), ("18000101", "before 1900")]
)
def test_a_birth_date_the_patient_pages_would_refuse_is_refused_naming_pid_7(
    birth: str, problem: str
) -> None:
    """A patient born in 2099 was registered over HL7 (the API, FHIR and the forms refuse it)."""
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
        f"PID|||X||张^三||{birth}|M\rOBR|1\rOBX|1|NM|GLU^葡萄糖||5.1"
    )
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert (error.value.code, error.value.segment, error.value.field) == (102, "PID", 7)
    assert problem in str(error.value)


def test_a_birth_date_of_tomorrow_is_refused_in_the_last_hour_of_today(monkeypatch: Any) -> None:
    from careloop.interop import times

    shanghai = ZoneInfo("Asia/Shanghai")

    class LateEvening(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime(2026, 12, 6, 23, 30, tzinfo=shanghai).astimezone(tz)

    monkeypatch.setattr(times, "datetime", LateEvening)
    text = (
        "MSH|^~\\&|A|B|C|D|20261206233000||ORU^R01|1|P|2.4\r"
        "PID|||X||张^三||20261207|M\rOBR|1\rOBX|1|NM|GLU^葡萄糖||5.1"
    )
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert (error.value.segment, error.value.field) == ("PID", 7)
    assert "2026-12-07 is in the future" in str(error.value)
    today = text.replace("20261207", "20261206")  # born today: fine
    assert read(parse(today)).patient.birth_date == date(2026, 12, 6)


@pytest.mark.parametrize("kind", ["PI", "MR", "RRI", ""])
def test_a_resident_id_number_under_another_type_is_read_as_the_id_number(kind: str) -> None:
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
        f"PID|1||MZ001^^^H1^MR~11010119500315003X^^^CHN^{kind}~11010119500315003X^^^^NI"
        "||王^建国||19500315|M\rOBR|1\rOBX|1|NM|GLU||5.1"
    )
    patient = read(parse(text)).patient
    assert patient.id_number == "11010119500315003X"
    # Only the hospital's own number is a record number; the ID number is never one.
    assert [i.value for i in patient.record_numbers] == ["MZ001"]


def test_two_id_numbers_read_the_same_whatever_their_order() -> None:
    typed, untyped = "11010119500315003X^^^^NI", "110101195003150056^^^LIS^PI"
    for ids in (f"{typed}~{untyped}", f"{untyped}~{typed}"):
        text = (
            "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
            f"PID|1||{ids}||王^建国||19500315|M\rOBR|1\rOBX|1|NM|GLU||5.1"
        )
        patient = read(parse(text)).patient
        assert patient.id_number == "11010119500315003X", ids
        assert [i.value for i in patient.record_numbers] == ["110101195003150056"], ids


def test_an_id_shaped_number_that_is_no_valid_id_stays_a_record_number() -> None:
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
        "PID|1||110101195003150031^^^H1^PI||王^建国||19500315|M\rOBR|1\rOBX|1|NM|GLU||5.1"
    )
    patient = read(parse(text)).patient
    assert patient.id_number == ""
    assert [i.value for i in patient.record_numbers] == ["110101195003150031"]


def test_an_error_is_located_by_the_segments_occurrence_not_its_line() -> None:
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.5\rPID|||X||张^三||19500101|M\r"
        "OBR|1\rOBX|1|NM|GLU||5.1\rNTE|1||ok\rOBX|2|NM|K||高"
    )
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert (error.value.segment, error.value.sequence, error.value.field) == ("OBX", 2, 5)
    ack = build_ack(parse(text), "AE", error.value)
    assert next(s for s in ack.split("\r") if s.startswith("ERR")).split("|")[2] == "OBX^2^5"


def test_ack_accepts_in_the_senders_version() -> None:
    message = parse(load("lis_utf8_oru_r01.hl7")[0])
    ack = build_ack(message, "AA", now=datetime(2026, 11, 23, 23, 40, 13))
    segments = ack.rstrip("\r").split("\r")
    msh = segments[0].split("|")
    assert msh[2:6] == ["CARELOOP", "CARELOOP", "LIS", "DEMO-LIS"]
    assert msh[8] == "ACK^R01^ACK" and msh[11] == "2.4" and msh[17] == "UNICODE UTF-8"
    assert segments[1] == "MSA|AA|LIS202611230001"
    assert hl7.parse(ack).segment("MSA")[1][0] == "AA"  # python-hl7 can read our ACK


def test_error_acks_carry_an_err_segment_for_each_version() -> None:
    error = HL7Error("OBX-5: 'x' is not a number", code=102, segment="OBX", sequence=6, field=5)
    old = build_ack(parse("MSH|^~\\&|A|B|C|D|20260101||ORU^R01|42|P|2.3.1"), "AE", error)
    assert "MSA|AE|42|OBX-5: 'x' is not a number" in old
    assert "\rERR|OBX^6^5^102&Data type error&HL70357&&" in old
    new = build_ack(parse("MSH|^~\\&|A|B|C|D|20260101||ORU^R01|42|P|2.5.1"), "AE", error)
    err = next(s for s in new.split("\r") if s.startswith("ERR")).split("|")
    assert err[2] == "OBX^6^5" and err[3] == "102^Data type error^HL70357" and err[4] == "E"
    assert err[8] == "OBX-5: 'x' is not a number"
    # answered as the application and facility addressed (C, D), back to the sender (A, B)
    assert new.split("\r")[0].split("|")[2:6] == ["C", "D", "A", "B"]
    unreadable = build_ack(None, "AR", error, raw=b"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|42|P|2.4")
    assert unreadable.split("\r")[0].split("|")[2:6] == ["C", "D", "A", "B"]
    bare = build_ack(None, "AR", HL7Error("no MSH", code=100, reject=True))
    assert "\rMSA|AR\r" in bare


@pytest.mark.parametrize(
    ("value_type", "sent", "value", "comparator", "text"),
    [
        ("ST", "5.6", 5.6, "", "5.6"),
        ("ST", ">1000", 1000.0, ">", ">1000"),
        ("TX", "<0.01", 0.01, "<", "<0.01"),
        ("ST", "≥ 33.3", 33.3, ">=", "≥ 33.3"),
        ("ST", "1:80", None, "", "1:80"),  # a titre stays text
        ("ST", "阴性", None, "", "阴性"),
        ("FT", "5.6", None, "", "5.6"),  # formatted text is not read for a number
    ],
)
def test_a_number_sent_as_a_string_is_read_as_one(
    value_type: str, sent: str, value: float | None, comparator: str, text: str
) -> None:
    message = parse(
        "MSH|^~\\&|LIS|DEMO-LIS|CARELOOP|CARELOOP|20261123234012||ORU^R01|S1|P|2.4\r"
        "PID|1||MZ1^^^DEMO-H1^MR||王^建国||19500315|M\r"
        "OBR|1|O1|R1|BIO^生化^L|||20261123221500\r"
        f"OBX|1|{value_type}|1742-6^ALT^LN||{sent}|U/L|9-50||||F\r"
    )
    [result] = read(message).orders[0].results
    assert (result.value, result.comparator, result.text) == (value, comparator, text)


def test_a_stay_ending_before_it_begins_refuses_an_adt_but_not_a_results_message() -> None:
    backwards = "PV1|1|I|心内科||||||||||||||||ZY1|||||||||||||||||||||||||20261110103000|20261109"
    oru = load("lis_utf8_oru_r01.hl7")[0]
    header, rest = oru.split("\r", 1)
    pid, after = rest.split("\r", 1)
    assert read(parse("\r".join([header, pid, backwards, after]))).orders  # results kept
    adt = load("adt_a03_discharge.hl7")[0].split("\r")
    adt[3] = backwards
    with pytest.raises(HL7Error, match="PV1-45"):
        read(parse("\r".join(adt)))


@pytest.mark.parametrize(
    ("message_type", "code"),
    [("ADT^A05", 201), ("ADT^A12", 201), ("ADT^A31", 201), ("ORM^O01", 200)],
)
def test_an_event_not_taken_of_a_type_taken_is_an_unsupported_event(
    message_type: str, code: int
) -> None:
    """A HIS sends every ADT event (pre-admissions, cancelled transfers): one CareLoop does not
    take is refused as an unsupported event code (HL7 table 0357: 201), not as a message
    type it does not take (200), which ADT is not."""
    message = parse(f"MSH|^~\\&|HIS|H|C|D|20260101||{message_type}|7|P|2.5\rPID|||X||张^三")
    with pytest.raises(HL7Error) as error:
        read(message)
    assert (error.value.code, error.value.field, error.value.reject) == (code, 9, True)
    ack = build_ack(message, "AR", error.value)
    err = next(s for s in ack.split("\r") if s.startswith("ERR")).split("|")
    assert err[3].split("^")[0] == str(code)


@pytest.mark.parametrize(
    ("sent", "status"),
    [("U", "final"), ("W", "cancelled"), ("N", "cancelled"), ("O", "preliminary")],
)
def test_every_result_status_of_table_0085_is_taken(sent: str, status: str) -> None:
    """U (now final), W (posted as wrong), N (not asked) and O (order detail only) are valid
    OBX-11 values from 2.3 to 2.5.1: they were refused AE 103 "result status is not valid"."""
    message = parse(
        "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.5.1\rPID|||X||张^三||19500101|M\r"
        f"OBR|1|O1|R1|BIO\rOBX|1|NM|GLU^葡萄糖^L||5.1|mmol/L|3.9-6.1||||{sent}\r"
    )
    [result] = read(message).orders[0].results
    assert result.status == status


@pytest.mark.parametrize("processing", ["P", "T", "D"])
def test_the_ack_answers_in_the_senders_processing_id(processing: str) -> None:
    """A test system (MSH-11 T) was answered P, as if its message went to production."""
    message = parse(f"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|42|{processing}|2.5.1")
    assert build_ack(message, "AA").split("\r")[0].split("|")[10] == processing
    raw = f"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|42|{processing}|2.5.1".encode()
    unreadable = build_ack(None, "AR", HL7Error("x", reject=True), raw=raw)
    assert unreadable.split("\r")[0].split("|")[10] == "P"


def test_a_hex_escape_is_read_in_the_messages_character_set() -> None:
    """\\XD6D0\\ is 中 in GB18030: a GB18030 message's hex escapes were read as UTF-8 (two
    replacement characters stored as the result)."""
    raw = (
        "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.4|||||CHN|GB18030\r"
        "PID|||X||张^三||19500101|M\rOBR|1|O1|R1|BIO\r"
        "OBX|1|ST|NOTE^说明^L||\\XD6D0\\文||||||F\r"
    ).encode("gb18030")
    text, codec = decode(raw)
    [result] = read(parse(text, codec)).orders[0].results
    assert result.text == "中文"
    utf8 = parse(
        "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.4\rPID|||X||张^三||19500101|M\r"
        "OBR|1|O1|R1|BIO\rOBX|1|ST|NOTE^说明^L||\\XE4B8AD\\文||||||F\r"
    )
    assert read(utf8).orders[0].results[0].text == "中文"


@pytest.mark.parametrize(
    ("sent", "unit"),
    [
        ("10^9/L", "10^9/L"),
        ("×10^12/L", "×10^12/L"),
        ("10\\S\\9/L", "10^9/L"),  # escaped, as the standard has it
        ("10*9/L", "10*9/L"),
        ("mmol/L^毫摩尔每升^UCUM", "mmol/L"),
        ("^g/L", "g/L"),
    ],
)
def test_a_unit_with_a_power_of_ten_sent_unescaped_is_read_whole(sent: str, unit: str) -> None:
    """A platelet count of 25 in "10^9/L" (the caret unescaped, as many LIS send it) was read
    in unit "10": not converted, so not found critical (≤ 30 × 10⁹/L)."""
    message = parse(
        "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.5\rPID|||X||张^三||19500101|M\r"
        f"OBR|1|O1|R1|CBC\rOBX|1|NM|777-3^血小板^LN||25|{sent}|125-350|L|||F\r"
    )
    [result] = read(message).orders[0].results
    assert result.unit == unit


def test_an_embedded_report_beside_the_results_does_not_cost_them() -> None:
    """A LIS sends the report's PDF (OBX-2 ED) or a PACS link (RP) beside its results: the
    whole message was refused AE 103, its glucose lost with it. They are passed over (their
    notes go to the order); other value types of table 0125 are kept as text."""
    message = parse(
        "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.5\rPID|||X||张^三||19500101|M\r"
        "OBR|1|O1|R1|BIO\r"
        "OBX|1|NM|GLU^葡萄糖^L||5.6|mmol/L|3.9-6.1||||F\r"
        "OBX|2|ED|PDF^报告^L||^AP^PDF^Base64^JVBERi0xLjQK||||||F\r"
        "NTE|1||报告PDF\r"
        "OBX|3|RP|IMG^影像^L||http://pacs/1^^IMAGE^JPEG||||||F\r"
        "OBX|4|MO|FEE^费用^L||25.50^CNY||||||F\r"
        "OBX|5|DTM|TIME^采样时间^L||20251231080000||||||F\r"
    )
    [order] = read(message).orders
    assert [(r.code, r.value, r.text) for r in order.results] == [
        ("GLU", 5.6, "5.6"),
        ("FEE", None, "25.50 CNY"),
        ("TIME", None, "20251231080000"),
    ]
    assert order.results[0].notes == [] and order.notes == ["报告PDF"]
    unknown = (
        "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.5\rPID|||X||张^三||19500101|M\r"
        "OBR|1|O1|R1|BIO\rOBX|1|ZZ|X^x^L||1||||||F\r"
    )
    with pytest.raises(HL7Error, match="value type 'ZZ' is not supported"):
        read(parse(unknown))


def test_a_message_with_several_patients_is_refused_naming_the_second() -> None:
    """An ORU^R01 whose PATIENT_RESULT group repeats (a LIS sending two patients' results at
    once): the second patient's potassium was stored on the first patient's record."""
    text = (
        "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.5\r"
        "PID|1||FZ01^^^FZ^MR||林^一||19700303|M\rOBR|1|A|R1|BIO\r"
        "OBX|1|NM|K^钾^L||6.9|mmol/L|3.5-5.3|HH|||F\r"
        "PID|2||FZ02^^^FZ^MR||林^二||19800404|F\rOBR|1|B|R2|BIO\r"
        "OBX|1|NM|K^钾^L||4.0|mmol/L|3.5-5.3||||F\r"
    )
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert (error.value.segment, error.value.sequence, error.value.reject) == ("PID", 2, False)
    assert "2 patients in one message" in str(error.value)


@pytest.mark.parametrize(
    "name", ["GB 18030", "GB-18030", "GB18030-2022", "gb18030", "CP936", "GB_2312"]
)
def test_msh_18_is_read_as_senders_spell_it(name: str) -> None:
    """A LIS naming its character set GB18030-2022 (the current edition), "GB 18030" or CP936
    had every message refused AR "unsupported character set"."""
    raw = (
        f"MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.4|||||CHN|{name}\r"
        "PID|||X||陈^秀英||19500101|F\r"
    ).encode("gb18030")
    text, codec = decode(raw)
    assert codec == "gb18030" and "陈^秀英" in text
    utf8 = "MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.4|||||CHN|utf8\rPID|||X||陈^秀英"
    assert decode(utf8.encode()) == (utf8, "utf-8")
    with pytest.raises(HL7Error, match="unsupported character set 'EBCDIC'"):
        decode(b"MSH|^~\\&|LIS|L|C|D|20260101||ORU^R01|1|P|2.4|||||CHN|EBCDIC\r")


def test_a_first_generation_15_digit_id_number_typed_ni_is_read_as_its_18_digit_number() -> None:
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
        "PID|1||MZ001^^^H1^MR~110101500315003^^^^NI||王^建国\rOBR|1\rOBX|1|NM|GLU||5.1"
    )
    patient = read(parse(text)).patient
    assert patient.id_number == "11010119500315003X"
    assert (patient.sex, patient.birth_date) == ("male", date(1950, 3, 15))
    assert patient.unregistrable is None  # sex and birth date come from it
    assert [i.value for i in patient.record_numbers] == ["MZ001"]


def test_a_15_digit_id_number_with_an_impossible_date_is_refused_naming_it() -> None:
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
        "PID|1||110101500230003^^^^NI||王^建国\rOBR|1\rOBX|1|NM|GLU||5.1"
    )
    with pytest.raises(HL7Error) as error:
        read(parse(text))
    assert (error.value.segment, error.value.field) == ("PID", 3)
    assert "15-digit birth date" in str(error.value)


def test_a_15_digit_number_not_typed_as_an_id_number_stays_a_record_number() -> None:
    # Without a check character a 15-digit record number could pass for one: only a typed
    # one (NI, ID, SFZ …) is read as an ID number.
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
        "PID|1||110101500315003^^^H1^MR||王^建国||19500315|M\rOBR|1\rOBX|1|NM|GLU||5.1"
    )
    patient = read(parse(text)).patient
    assert patient.id_number == ""
    assert [i.value for i in patient.record_numbers] == ["110101500315003"]


@pytest.mark.parametrize(
    ("pid13", "phone"),
    [
        ("010-62345678^PRN^PH", "010-62345678"),  # a landline only
        ("^PRN^PH^^86^755^12345678^8001", "0755-12345678转8001"),  # given in its parts
        ("010-62345678^PRN^PH~13812348000^PRN^CP", "13812348000"),  # a mobile preferred
        ("010-62345678^PRN^FX", ""),  # a fax is no way to reach anyone
    ],
)
def test_a_landline_in_pid_13_is_read_when_there_is_no_mobile(pid13: str, phone: str) -> None:
    text = (
        "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.4\r"
        f"PID|1||MZ001^^^H1^MR||王^建国||19500315|M|||||{pid13}\rOBR|1\rOBX|1|NM|GLU||5.1"
    )
    assert read(parse(text)).patient.phone == phone
