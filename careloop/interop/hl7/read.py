"""What a message says, as plain data: patient, visit, diagnoses, procedures, orders and
results.

``read()`` validates as it goes and raises HL7Error naming the segment and field, so a
message that reads is one the processor can import: the listener reads every message
before it acknowledges it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from careloop.clinical.assessment import LOINC_SYSTEMS, ImpossibleValue, check_possible
from careloop.clinical.icd10 import WELL_FORMED, UnknownDiagnosis, diagnosis_name
from careloop.clinical.loinc import loinc_problem
from careloop.clinical.procedures import BadProcedureCode, is_surgery, procedure_code
from careloop.interop.hl7.message import (
    SUPPORTED_VERSIONS,
    HL7Error,
    Message,
    Segment,
    unescape,
)
from careloop.interop.times import EARLIEST_YEAR, after_today, in_the_future, too_early
from careloop.patients.identity import (
    IdentifierError,
    ResidentId,
    parse_id_number,
    validate_landline,
    validate_mobile,
)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SUPPORTED = {
    "ORU^R01",
    "ADT^A01",
    "ADT^A02",
    "ADT^A03",
    "ADT^A04",
    "ADT^A08",
    "ADT^A11",
    "ADT^A13",
    "ADT^A40",
}
# Events about a stay already known by its visit number (PV1-19): a transfer, a cancelled
# admission, a cancelled discharge. Without the stay there is nothing to change.
STAY_EVENTS = frozenset({"A02", "A11", "A13"})
NATIONAL_ID_TYPES = {"NI", "ID", "SFZ", "NNCHN", "CHNID"}
PASSPORT_TYPES = {"PPN", "PP", "HZ"}
MAX_CHARGES = Decimal("1e10")  # Encounter.charges holds 12 digits, 2 after the point
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_ID_SHAPE = re.compile(r"^\d{17}[\dXx]$")


@dataclass
class Identifier:
    value: str
    type_code: str
    authority: str


@dataclass
class PatientData:
    identifiers: list[Identifier] = field(default_factory=list)
    id_number: str = ""
    passport: str = ""
    record_numbers: list[Identifier] = field(default_factory=list)  # MRNs
    exam_numbers: list[Identifier] = field(default_factory=list)
    name: str = ""
    sex: str | None = None
    birth_date: date | None = None
    phone: str = ""
    address: str = ""
    resident: ResidentId | None = None  # what the resident ID number says, once checked
    deceased: bool = False  # PID-30 "Y", or a PID-29 death date
    died_at: datetime | None = None  # PID-29
    # Why a patient not known yet could not be registered from this PID (no name, birth
    # date or sex): a known one is matched by identifier and needs none of them.
    unregistrable: HL7Error | None = None


@dataclass
class Visit:
    visit_number: str = ""
    patient_class: str = ""  # I inpatient, O outpatient, E emergency, P pre-admit
    department: str = ""
    location: str = ""  # PV1-3 as sent: point of care (ward), room, bed
    prior_location: str = ""  # PV1-6, where a transferred patient was
    admitted_at: datetime | None = None
    discharged_at: datetime | None = None
    charges: Decimal | None = None  # PV1-47 total charges, yuan
    disposition: str = ""  # PV1-36 discharge disposition, as sent


@dataclass
class Diagnosis:
    code: str
    name: str
    coding_system: str
    recorded_at: datetime | None = None


@dataclass
class ProcedureDone:
    code: str
    name: str
    coding_system: str  # as kept (procedures.procedure_code)
    surgery: bool
    performed_at: datetime
    note: str = ""


@dataclass
class Result:
    set_id: str
    value_type: str
    code: str
    name: str
    coding_system: str
    value: float | None
    comparator: str
    text: str
    unit: str
    reference: str
    flags: str
    status: str
    observed_at: datetime | None
    notes: list[str] = field(default_factory=list)


@dataclass
class Order:
    placer_number: str
    filler_number: str
    code: str
    name: str
    coding_system: str
    observed_at: datetime | None
    status: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ReadMessage:
    message_type: str
    event: str
    sent_at: datetime | None
    patient: PatientData
    visit: Visit | None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    procedures: list[ProcedureDone] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    # ADT^A40: the patient merged into this one (MRG-1, read as a PID-3 is).
    prior_patient: PatientData | None = None


_TS_SEEN: dict[str, datetime] = {}  # a message repeats its times in every OBX


def parse_ts(value: str, where: tuple[str, int, int]) -> datetime | None:
    """An HL7 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+ZZZZ]); local time when no offset."""
    seen = _TS_SEEN.get(value)
    if seen is not None:
        return seen
    moment = _parse_ts(value.strip(), where)
    if moment is not None:
        if len(_TS_SEEN) > 4096:
            _TS_SEEN.clear()
        _TS_SEEN[value] = moment
    return moment


def _ts_error(value: str, where: tuple[str, int, int], why: str) -> HL7Error:
    """A time field that cannot be taken (AE 102 naming the field)."""
    return HL7Error(
        f"{where[0]}-{where[2]}: {value!r} {why}",
        code=102,
        segment=where[0],
        sequence=where[1],
        field=where[2],
    )


def _parse_ts(value: str, where: tuple[str, int, int]) -> datetime | None:
    if not value:
        return None
    match = _TS.match(value)
    if not match:
        raise _ts_error(value, where, "is not an HL7 date/time")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(  # noqa: DTZ001 - the zone is attached below
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
        )
    except ValueError as exc:
        raise _ts_error(value, where, "is not a valid date") from exc
    if too_early(moment):
        raise _ts_error(value, where, f"is before {EARLIEST_YEAR}")
    if offset:
        if int(offset[1:3]) > 14 or int(offset[3:5]) > 59:  # UTC-12:00 … UTC+14:00
            raise _ts_error(value, where, "has an impossible time-zone offset")
        sign = 1 if offset[0] == "+" else -1
        delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        return moment.replace(tzinfo=timezone(sign * delta))
    return moment.replace(tzinfo=LOCAL_TZ)


def check_header(message: Message) -> None:
    """MSH problems make the whole message unacceptable (AR)."""
    msh = message.msh
    if not message.message_code:
        raise HL7Error(
            "MSH-9: the message type is missing",
            code=101,
            segment="MSH",
            sequence=1,
            field=9,
            reject=True,
        )
    if not message.control_id:
        raise HL7Error(
            "MSH-10: the message control id is missing",
            code=101,
            segment="MSH",
            sequence=1,
            field=10,
            reject=True,
        )
    if message.version not in SUPPORTED_VERSIONS:
        raise HL7Error(
            f"MSH-12: version {message.version or '(none)'} is not supported (2.3-2.5.1)",
            code=203,
            segment="MSH",
            sequence=1,
            field=12,
            reject=True,
        )
    if message.message_type not in SUPPORTED:
        # HL7 table 0357: a message type CareLoop takes with an event it does not (an ADT^A02
        # transfer, an A11 cancelled admission) is 201, unsupported event code; another
        # message type (ORM, QRY) is 200.
        known_type = any(t.startswith(f"{message.message_code}^") for t in SUPPORTED)
        raise HL7Error(
            f"MSH-9: {message.message_type} is not supported "
            "(ORU^R01, ADT^A01/A02/A03/A04/A08/A11/A13/A40)",
            code=201 if known_type else 200,
            segment="MSH",
            sequence=1,
            field=9,
            reject=True,
        )
    processing = msh.component(11)
    if processing and processing not in ("P", "T", "D"):
        raise HL7Error(
            f"MSH-11: processing id {processing!r} is not valid",
            code=103,
            segment="MSH",
            sequence=1,
            field=11,
            reject=True,
        )


# PID-3 identifier types read as exam numbers (not record numbers) unless the sending system
# lists its own (SourceSystem.exam_identifier_types).
DEFAULT_EXAM_TYPES = frozenset({"PE", "TJ"})


def exam_types_of(listed: str) -> frozenset[str]:
    """A sending system's exam identifier types, from its comma-separated setting."""
    return frozenset(t.strip().upper() for t in listed.split(",") if t.strip())


def read(
    message: Message,
    *,
    exam_types: frozenset[str] = DEFAULT_EXAM_TYPES,
    icd10: Mapping[str, str] | None = None,
) -> ReadMessage:
    """``icd10``: the ICD-10 catalogue (code → name) a DG1's code must be in when it comes
    without a name; None (no catalogue at hand) checks only that it is an ICD-10 code."""
    check_header(message)
    sent_at = parse_ts(message.msh.component(7), ("MSH", 1, 7))
    pid = message.first("PID")
    if pid is None:
        raise HL7Error("the PID segment is missing", code=100, segment="PID")
    if len(pids := message.all("PID")) > 1:
        # An ORU^R01 may carry several patients' results (its PATIENT_RESULT group repeats):
        # every OBR was read as the first patient's, another person's results on their record.
        raise HL7Error(
            f"PID: {len(pids)} patients in one message; CareLoop takes one patient's results "
            "per message (send each patient's in a message of its own)",
            code=100,
            segment="PID",
            sequence=2,
        )
    patient = _patient(pid, exam_types)
    pv1 = message.first("PV1")
    visit = _visit(pv1) if pv1 else None
    result = ReadMessage(message.message_type, message.trigger_event, sent_at, patient, visit)
    if message.message_code == "ORU":
        result.orders = _orders(message, sent_at)
        if not result.orders:
            raise HL7Error("an ORU^R01 needs at least one OBR segment", code=100, segment="OBR")
    else:
        event = message.trigger_event
        if pv1 is None and event in ("A01", "A03", "A04", *STAY_EVENTS):
            raise HL7Error(f"ADT^{event} needs a PV1 segment", code=100, segment="PV1")
        if event in STAY_EVENTS and pv1 is not None and visit and not visit.visit_number:
            raise _field_error(
                pv1, 19, f"ADT^{event} names the stay by its visit number, missing", 101
            )
        if event == "A40":
            result.prior_patient = _prior_patient(message, exam_types)
        if pv1 is not None and visit is not None:
            _check_stay(pv1, visit)
        result.diagnoses = [_diagnosis(dg1, icd10) for dg1 in message.all("DG1")]
        admitted = visit.admitted_at if visit is not None else None
        result.procedures = [_procedure(pr1, admitted) for pr1 in message.all("PR1")]
    return result


def _patient(pid: Segment, exam_types: frozenset[str]) -> PatientData:
    data = PatientData()
    ids = [(3, rep) for rep in range(len(pid.repetitions(3)))]
    for field_no, rep in ids:
        value = pid.component(field_no, 1, rep).strip()
        if not value:
            continue
        item = Identifier(
            value,
            pid.component(field_no, 5, rep).strip().upper(),
            pid.component(field_no, 4, rep).strip(),
        )
        data.identifiers.append(item)
    # Typed ID numbers and passports first: an untyped one then reads the same whatever
    # the order the repetitions came in.
    typed = NATIONAL_ID_TYPES | PASSPORT_TYPES
    for item in sorted(data.identifiers, key=lambda i: i.type_code not in typed):
        _classify(item, data, exam_types, pid)
    # Some Chinese systems put the resident ID number in PID-19 (SSN) or PID-4; elsewhere
    # those fields hold other numbers, so only an 18-character ID-shaped value is read.
    for field_no in (19, 4):
        value = pid.component(field_no).strip()
        if value and not data.id_number and _ID_SHAPE.match(value):
            try:
                data.resident = parse_id_number(value)
                data.id_number = data.resident.number
            except IdentifierError:
                raise HL7Error(
                    f"PID-{field_no}: the resident ID number is not valid "
                    f"({_identifier_problem(value)})",
                    code=102,
                    segment="PID",
                    sequence=pid.sequence,
                    field=field_no,
                ) from None
    if not data.identifiers and not data.id_number:
        raise HL7Error(
            "PID-3: no patient identifier", code=101, segment="PID", sequence=pid.sequence, field=3
        )
    family, given = pid.component(5, 1).strip(), pid.component(5, 2).strip()
    cjk = any("\u4e00" <= ch <= "\u9fff" for ch in family + given)
    data.name = (family + given) if cjk else " ".join(p for p in (given, family) if p)
    sex = pid.component(8).strip().upper()
    data.sex = {"M": "male", "F": "female"}.get(sex)
    birth = parse_ts(pid.component(7), ("PID", pid.sequence, 7))
    data.birth_date = birth.date() if birth else None
    # As every other way in refuses them (patients.validation): never a patient born later.
    _not_in_future(pid, 7, birth, "the date of birth ")
    if birth is not None and after_today(birth.date(), birth.tzinfo):
        raise _field_error(pid, 7, f"the date of birth {birth:%Y-%m-%d} is in the future")
    data.died_at = parse_ts(pid.component(29), ("PID", pid.sequence, 29))
    _not_in_future(pid, 29, data.died_at, "the date of death ")
    indicator = pid.component(30).strip().upper()  # Y / N
    data.deceased = indicator == "Y" or (indicator != "N" and data.died_at is not None)
    resident = data.resident
    if resident is not None:
        if data.sex and data.sex != resident.sex:
            raise HL7Error(
                "PID-8: the sex contradicts the resident ID number",
                code=102,
                segment="PID",
                sequence=pid.sequence,
                field=8,
            )
        if data.birth_date and data.birth_date != resident.birth_date:
            raise HL7Error(
                "PID-7: the date of birth contradicts the resident ID number",
                code=102,
                segment="PID",
                sequence=pid.sequence,
                field=7,
            )
        data.sex, data.birth_date = resident.sex, resident.birth_date
    data.unregistrable = _registration_gap(data, pid)
    data.phone = _phone(pid)
    parts = [pid.component(11, n) for n in (4, 3, 9, 1, 2)]
    data.address = "".join(p.strip() for p in parts if p.strip())[:200]
    return data


def _phone(pid: Segment) -> str:
    """PID-13's mobile number, else its landline (a fax, XTN-3 FX, passed over): many
    elderly patients have only a landline. A number is read from XTN-1 or XTN-12, or a
    landline from its parts (XTN-6 area code, XTN-7 local number, XTN-8 extension)."""
    landline = ""
    for rep in range(len(pid.repetitions(13))):
        if pid.component(13, 3, rep).strip().upper() == "FX":
            continue
        written = [pid.component(13, component, rep) for component in (1, 12)]
        area, local = pid.component(13, 6, rep).strip(), pid.component(13, 7, rep).strip()
        if area and local:
            extension = pid.component(13, 8, rep).strip()
            written.append(
                ("" if area.startswith("0") else "0")
                + f"{area}-{local}"
                + (f"转{extension}" if extension else "")
            )
        for value in written:
            if not value.strip():
                continue
            try:
                return validate_mobile(value)
            except IdentifierError:
                pass
            try:
                landline = landline or validate_landline(value)
            except IdentifierError:
                continue
    return landline


def _registration_gap(data: PatientData, pid: Segment) -> HL7Error | None:
    """What a new patient's record would lack (checked when no enrolled patient has the
    PID's identifiers)."""
    if not data.name:
        return HL7Error(
            "PID-5: the patient name is missing (needed to register a patient not known by "
            "these identifiers)",
            code=101,
            segment="PID",
            sequence=pid.sequence,
            field=5,
        )
    if data.birth_date is None or data.sex is None:
        missing = "PID-7 (date of birth)" if data.birth_date is None else "PID-8 (sex)"
        return HL7Error(
            f"{missing} is needed to register a patient not known by these identifiers "
            "(or a resident ID number)",
            code=101,
            segment="PID",
            sequence=pid.sequence,
            field=7 if data.birth_date is None else 8,
        )
    return None


def _identifier_problem(value: str) -> str:
    try:
        parse_id_number(value)
    except IdentifierError as exc:
        return exc.code.replace("id15_", "15-digit ").replace("id_", "").replace("_", " ")
    return "valid"


def _classify(
    item: Identifier, data: PatientData, exam_types: frozenset[str], pid: Segment
) -> None:
    if item.type_code in NATIONAL_ID_TYPES:
        try:
            data.resident = parse_id_number(item.value)
            data.id_number = data.resident.number
        except IdentifierError:
            raise HL7Error(
                f"PID-3: identifier of type {item.type_code} is not a valid "
                f"resident ID number ({_identifier_problem(item.value)})",
                code=102,
                segment="PID",
                sequence=pid.sequence,
                field=3,
            ) from None
    elif item.type_code in PASSPORT_TYPES:
        data.passport = item.value.upper()
    elif _resident_id(item.value, data):
        # A valid resident ID number under another type (PI, MR, RRI: many Chinese systems
        # use it as their patient number): read as the ID number, so the patient is matched
        # by it, and never kept as a record number in the clear.
        pass
    elif item.type_code in exam_types:
        data.exam_numbers.append(item)
    else:
        data.record_numbers.append(item)


def _resident_id(value: str, data: PatientData) -> bool:
    """Whether ``value`` is a valid resident ID number (read into ``data`` unless one was
    read already; the same number again is not a second identifier)."""
    if not _ID_SHAPE.match(value):
        return False
    try:
        resident = parse_id_number(value)
    except IdentifierError:
        return False
    if not data.id_number:
        data.resident, data.id_number = resident, resident.number
    return resident.number == data.id_number


def _prior_patient(message: Message, exam_types: frozenset[str]) -> PatientData:
    """ADT^A40's MRG-1: the identifiers of the patient merged into the PID's, classified as
    PID-3's are (a resident ID number, record and exam numbers, a passport)."""
    mrg = message.first("MRG")
    if mrg is None:
        raise HL7Error("ADT^A40 needs an MRG segment", code=100, segment="MRG")
    data = PatientData()
    for rep in range(len(mrg.repetitions(1))):
        value = mrg.component(1, 1, rep).strip()
        if value:
            item = Identifier(
                value, mrg.component(1, 5, rep).strip().upper(), mrg.component(1, 4, rep).strip()
            )
            data.identifiers.append(item)
    if not data.identifiers:
        raise _field_error(mrg, 1, "the prior patient identifier is missing", 101)
    typed = NATIONAL_ID_TYPES | PASSPORT_TYPES
    try:
        for item in sorted(data.identifiers, key=lambda i: i.type_code not in typed):
            _classify(item, data, exam_types, mrg)
    except HL7Error as error:
        raise _field_error(mrg, 1, str(error).removeprefix("PID-3: ")) from error
    return data


def _location(pv1: Segment, field_no: int) -> str:
    """A PL (point of care^room^bed), its parts joined by "/" as staff write it."""
    parts = [pv1.component(field_no, n).strip() for n in (1, 2, 3)]
    return "/".join(p for p in parts if p)[:100]


def _visit(pv1: Segment) -> Visit:
    visit = Visit(
        visit_number=pv1.component(19).strip(),
        patient_class=pv1.component(2).strip().upper(),
        department=(pv1.component(3, 1) or pv1.component(10)).strip(),
        location=_location(pv1, 3),
        prior_location=_location(pv1, 6),
        admitted_at=parse_ts(pv1.component(44), ("PV1", pv1.sequence, 44)),
        discharged_at=parse_ts(pv1.component(45), ("PV1", pv1.sequence, 45)),
        charges=_charges(pv1),
        disposition=pv1.component(36).strip(),
    )
    return visit


def _check_stay(pv1: Segment, visit: Visit) -> None:
    """An admission or discharge message's stay must not end before it begins, compared at
    the precision sent: a discharge dated by its day alone ("20261110") ends that day, after
    an admission at 10:30 of it. (A result's PV1 is not checked: its results still count.)"""
    if not (visit.admitted_at and visit.discharged_at):
        return
    admitted, discharged = visit.admitted_at, visit.discharged_at
    if min(len(pv1.component(44).strip()), len(pv1.component(45).strip())) <= 8:
        admitted, discharged = admitted.astimezone(LOCAL_TZ), discharged.astimezone(LOCAL_TZ)
        early = discharged.date() < admitted.date()
    else:
        early = discharged < admitted
    if early:
        raise HL7Error(
            "PV1-45: the discharge time is before the admission time (PV1-44)",
            code=102,
            segment="PV1",
            sequence=pv1.sequence,
            field=45,
        )


def _charges(pv1: Segment) -> Decimal | None:
    """PV1-47 total charges in yuan ("1,234.50", "¥1234" read too). A billing field must not
    cost a result or a discharge: what is not an amount is left out, not refused."""
    text = pv1.component(47).strip().replace(",", "").lstrip("¥￥").removesuffix("元").strip()
    if not text:
        return None
    try:
        value = Decimal(text).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value < 0 or value >= MAX_CHARGES:
        return None
    return value


def _diagnosis(dg1: Segment, icd10: Mapping[str, str] | None) -> Diagnosis:
    """A DG1's diagnosis, checked as a FHIR Condition's is (``diagnosis_name``): an ICD-10
    code, named in DG1-3.2 or DG1-4 or else by the catalogue (``icd10``, a snapshot of it;
    None: the name is looked up where it is stored)."""
    code = dg1.component(3, 1).strip().upper()
    name = dg1.component(3, 2).strip() or dg1.text(4).strip()
    if not code:
        raise HL7Error(
            "DG1-3: the diagnosis code is missing",
            code=101,
            segment="DG1",
            sequence=dg1.sequence,
            field=3,
        )
    try:
        if icd10 is not None:
            name = diagnosis_name(code, name, icd10)
        elif not WELL_FORMED.match(code):
            raise UnknownDiagnosis(code, malformed=True)
    except UnknownDiagnosis as error:
        raise HL7Error(
            f"DG1-3: {error}" + ("" if error.malformed else "; send its name in DG1-3.2 or DG1-4"),
            code=102 if error.malformed else 103,
            segment="DG1",
            sequence=dg1.sequence,
            field=3,
        ) from error
    return Diagnosis(
        code=code,
        name=name,
        coding_system=dg1.component(3, 3).strip(),
        recorded_at=parse_ts(dg1.component(5), ("DG1", dg1.sequence, 5)),
    )


def _procedure(pr1: Segment, admitted: datetime | None) -> ProcedureDone:
    """A PR1's procedure: PR1-3 a code (ICD-9-CM-3, 国家临床版, checked as the staff form and
    FHIR Procedure check it; another system's kept as sent), named in PR1-3.2 or PR1-4;
    PR1-5 when it was done, not in the future. Many HIS leave PR1-5 empty: the stay's
    admission (PV1-44) then stands for it, said in the note (refusing the message would
    lose the discharge with it); with neither, the message is refused naming PR1-5."""
    code = pr1.component(3, 1).strip()
    system = pr1.component(3, 3).strip()
    try:
        code, system = procedure_code(code, system)
    except BadProcedureCode as error:
        raise _field_error(pr1, 3, str(error), 101 if not code else 102) from error
    performed = parse_ts(pr1.component(5), ("PR1", pr1.sequence, 5))
    note = ""
    if performed is None and admitted is not None:
        performed, note = admitted, "手术操作日期未发送（PR1-5），按入院时间（PV1-44）记录"
    if performed is None:
        raise _field_error(
            pr1, 5, "the procedure date/time is missing (and no admission time in PV1-44)", 101
        )
    _not_in_future(pr1, 5, performed)
    return ProcedureDone(
        code=code,
        name=(pr1.component(3, 2).strip() or pr1.text(4).strip())[:100],
        coding_system=system,
        surgery=is_surgery(code, system),
        performed_at=performed,
        note=note,
    )


# OBX-2 value types (HL7 table 0125) that are no result to grade or show: an embedded
# document (ED: the report's PDF, sent beside its results by many LIS), a reference pointer
# to one (RP: an image on the PACS), numeric and multiplexed arrays (NA, MA: waveforms).
# Their OBX is passed over; the message's results are imported (the whole message was
# refused AE 103 for one of them).
NOT_RESULTS = frozenset({"ED", "RP", "NA", "MA"})
# Value types of table 0125 kept as text, their components joined (a money amount, a
# person's or place's name, a telephone number, an identifier).
TEXT_OF_PARTS = frozenset(
    {"AD", "CK", "CN", "CP", "CX", "DR", "MO", "PN", "TN", "XAD", "XCN", "XON", "XPN", "XTN"}
)
_STRING_NUMBER = re.compile(r"^(<=|>=|<|>|≤|≥|＜|＞)?\s*([-+]?\d+(?:\.\d+)?)$")
_COMPARATORS = {"≤": "<=", "≥": ">=", "＜": "<", "＞": ">"}
# OBX-11, HL7 table 0085 (every value of 2.3-2.5.1), as the v2-to-FHIR mapping reads it.
_STATUS = {
    "F": "final",
    "U": "final",  # now final, the value sent before as preliminary
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",
    "I": "preliminary",
    "S": "preliminary",
    "O": "preliminary",  # order detail only, no result yet
    "X": "cancelled",
    "D": "cancelled",
    "W": "cancelled",  # posted as wrong (the wrong patient): FHIR entered-in-error
    "N": "cancelled",  # not asked: no result
    "": "final",
}


def _orders(message: Message, sent_at: datetime | None) -> list[Order]:
    orders: list[Order] = []
    current: Order | None = None
    last_result: Result | None = None
    for segment in message.segments:
        if segment.name == "OBR":
            service = _parts(segment, 4)
            current = Order(
                placer_number=_at(_parts(segment, 2), 1),
                filler_number=_at(_parts(segment, 3), 1),
                code=_at(service, 1),
                name=_at(service, 2),
                coding_system=_at(service, 3),
                observed_at=parse_ts(_at(_parts(segment, 7), 1), ("OBR", segment.sequence, 7)),
                status=_at(_parts(segment, 25), 1).upper(),
            )
            _not_in_future(segment, 7, current.observed_at)
            orders.append(current)
            last_result = None
        elif segment.name == "OBX":
            if current is None:
                raise HL7Error(
                    "an OBX segment comes before any OBR",
                    code=100,
                    segment="OBX",
                    sequence=segment.sequence,
                )
            if _at(_parts(segment, 2), 1).upper() in NOT_RESULTS:
                last_result = None  # its NTEs are the order's
                continue
            last_result = _result(segment, current.observed_at or sent_at)
            current.results.append(last_result)
        elif segment.name == "NTE":
            note = segment.text(3).strip()
            if note and last_result is not None:
                last_result.notes.append(note)
            elif note and current is not None:
                current.notes.append(note)
    return orders


def _parts(segment: Segment, index: int) -> list[str]:
    """The components of a field's first repetition, unescaped only when there is anything
    to unescape (the common case is a plain split: results are read at high rates)."""
    fields = segment.fields
    value = fields[index] if index < len(fields) else ""
    if not value:
        return []
    d = segment.delimiters
    if segment.plain:
        return value.split(d.component)
    if d.repetition in value:
        value = value.split(d.repetition, 1)[0]
    parts = value.split(d.component)
    if d.escape in value or d.subcomponent in value:
        parts = [unescape(p.split(d.subcomponent)[0], d) for p in parts]
    return parts


def _at(parts: list[str], number: int) -> str:
    return parts[number - 1].strip() if number <= len(parts) else ""


def _field_error(segment: Segment, field_no: int, message: str, code: int = 102) -> HL7Error:
    return HL7Error(
        f"{segment.name}-{field_no}: {message}",
        code=code,
        segment=segment.name,
        sequence=segment.sequence,
        field=field_no,
    )


def _not_in_future(
    segment: Segment, field_no: int, moment: datetime | None, what: str = ""
) -> None:
    """A time the message gives must not lie ahead: AE naming its field."""
    if moment is not None and in_the_future(moment):
        raise _field_error(segment, field_no, f"{what}{moment:%Y-%m-%d %H:%M} is in the future")


# "10^9/L" sent in OBX-6 as it is written, its caret unescaped (many Chinese LIS do): read as
# components it is "10", and the unit of a count (platelets, white cells) was lost with it,
# so the count was neither converted nor checked against its critical values.
_POWER_BASE = re.compile(r"[xX×*]?10")
_POWER_REST = re.compile(r"\d{1,2}\s*/\s*\S+")


def _unit(units: list[str]) -> str:
    """OBX-6: the unit's identifier, else its text; a power of ten split at its caret
    ("10^9/L", "×10^12/L") read whole."""
    first, second = _at(units, 1), _at(units, 2)
    if _POWER_BASE.fullmatch(first) and _POWER_REST.fullmatch(second):
        return f"{first}^{second}"
    return first or second


def _result(obx: Segment, default_time: datetime | None) -> Result:
    value_type = _at(_parts(obx, 2), 1).upper()
    identifier = _parts(obx, 3)
    code, name = _at(identifier, 1), _at(identifier, 2)
    if not code and not name:
        raise _field_error(obx, 3, "the observation identifier is missing", 101)
    value: float | None = None
    comparator = ""
    fields = obx.fields
    raw = fields[5] if len(fields) > 5 else ""
    text = (unescape(raw, obx.delimiters) if obx.delimiters.escape in raw else raw).strip()
    if value_type == "NM":
        if text and not _NUMBER.match(text):
            raise _field_error(obx, 5, f"{text!r} is not a number (OBX-2 says NM)")
        value = float(text) if text else None
    elif value_type == "SN":
        parts = _parts(obx, 5)
        comparator, first, separator, second = (
            _at(parts, 1),
            _at(parts, 2),
            _at(parts, 3),
            _at(parts, 4),
        )
        if first and not _NUMBER.match(first):
            raise _field_error(obx, 5, f"{first!r} is not a number (OBX-2 says SN)")
        if comparator and comparator not in ("<", ">", "<=", ">=", "=", "<>"):
            raise _field_error(obx, 5, f"{comparator!r} is not an SN comparator")
        if first and not separator:
            value = float(first)
            comparator = "" if comparator == "=" else comparator
            text = first
        else:
            text = "".join([comparator, first, separator, second])
            comparator = ""
    elif value_type in ("CE", "CWE", "CNE", "CF"):
        parts = _parts(obx, 5)
        text = _at(parts, 2) or _at(parts, 1)
    elif value_type in TEXT_OF_PARTS:
        text = " ".join(p.strip() for p in _parts(obx, 5) if p.strip())
    elif value_type not in ("ST", "TX", "FT", "DT", "DTM", "TS", "TM", "ID", "IS", ""):
        raise _field_error(obx, 2, f"value type {value_type!r} is not supported", 103)
    if value_type in ("ST", "TX", "") and (number := _STRING_NUMBER.match(text)):
        # A number sent as a string, as many laboratories do ("5.6", ">1000", "<0.01"):
        # read as the number it is, so it is graded (and a critical one alerted).
        comparator, value = _COMPARATORS.get(number[1], number[1] or ""), float(number[2])
    status = _at(_parts(obx, 11), 1).upper()
    if status not in _STATUS:
        raise _field_error(obx, 11, f"result status {status!r} is not valid", 103)
    units = _parts(obx, 6)
    raw_range = fields[7] if len(fields) > 7 else ""
    coding_system = _at(identifier, 3)
    if coding_system.upper() in LOINC_SYSTEMS:  # a local code is known once mapped
        if problem := loinc_problem(code):
            raise _field_error(obx, 3, problem, 103)
        try:
            check_possible(code, value, name)
        except ImpossibleValue as error:
            message = f"{text!r} is negative, which {code} ({name}) cannot be"
            raise _field_error(obx, 5, message) from error
    given = parse_ts(_at(_parts(obx, 14), 1), ("OBX", obx.sequence, 14))
    _not_in_future(obx, 14, given)
    observed = given or default_time
    return Result(
        set_id=_at(_parts(obx, 1), 1),
        value_type=value_type or "ST",
        code=code,
        name=name,
        coding_system=coding_system,
        value=value,
        comparator=comparator,
        text=text,
        unit=_unit(units),
        reference=(
            unescape(raw_range, obx.delimiters) if obx.delimiters.escape in raw_range else raw_range
        ).strip(),
        flags=_at(_parts(obx, 8), 1).upper(),
        status=_STATUS[status],
        observed_at=observed,
    )
