"""The listener's side of inbound messages: examine each one, know its sender, answer it.

``examine`` reads a message completely (it is CPU only, no database) so the ACK can say
AE/AR with the problem; storing is ``inbound_store.InboundStore``'s job.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from careloop.clinical.models import Icd10Code
from careloop.interop.hl7.ack import build_ack, frame
from careloop.interop.hl7.message import (
    HL7Error,
    Message,
    decode,
    header_fields,
    header_text,
    parse,
)
from careloop.interop.hl7.read import (
    DEFAULT_EXAM_TYPES,
    STAY_EVENTS,
    PatientData,
    ReadMessage,
    exam_types_of,
    read,
)
from careloop.interop.models import SourceSystem
from careloop.interop.urgency import is_urgent
from careloop.patients.identity import normalise_id_number, normalise_passport, normalise_plain

COLUMNS = [
    "received_at",
    "transport",
    "peer",
    "raw",
    "encoding",
    "source_id",
    "sending_application",
    "sending_facility",
    "message_type",
    "control_id",
    "version",
    "accepted",
    "status",
    "ack_code",
    "error",
    "attempts",
    "shard",
    "urgent",
]
# Messages are spread over this many shards by patient; processor k of n imports the shards
# whose number is k modulo n (see processing.claim).
SHARDS = 1024


@dataclass(frozen=True)
class SourceInfo:
    id: int
    default_encoding: str
    exam_types: frozenset[str]


class SourceCache:
    """Sending systems by facility, and the ICD-10 catalogue a diagnosis sent without a name
    must be in, read from the database now and then (not per message)."""

    REFRESH = 10.0

    def __init__(self) -> None:
        self._by_facility: dict[str, SourceInfo] = {}
        self._icd10: dict[str, str] | None = None  # not read yet: codes checked for form only
        self._loaded = 0.0
        self._lock = threading.Lock()

    def load(self) -> None:
        found = {}
        for source in SourceSystem.objects.all():
            types = exam_types_of(source.exam_identifier_types)
            found[source.facility] = SourceInfo(source.pk, source.default_encoding, types)
        icd10 = dict(Icd10Code.objects.values_list("code", "name"))
        with self._lock:
            self._by_facility = found
            self._icd10 = icd10
            self._loaded = time.monotonic()

    @property
    def icd10(self) -> dict[str, str] | None:
        with self._lock:
            return self._icd10

    def stale(self) -> bool:
        return time.monotonic() - self._loaded > self.REFRESH

    def get(self, facility: str) -> SourceInfo | None:
        with self._lock:
            return self._by_facility.get(facility)

    def put(self, facility: str, info: SourceInfo) -> None:
        with self._lock:
            self._by_facility[facility] = info


@dataclass
class Incoming:
    raw: bytes
    peer: str
    received_at: datetime
    encoding: str = ""
    message: Message | None = None
    error: HL7Error | None = None
    facility: str = ""
    shard: int = 0
    urgent: bool = False

    @property
    def ack_code(self) -> str:
        if self.error is None:
            return "AA"
        return "AR" if self.error.reject else "AE"

    def ack(self) -> bytes:
        ack = build_ack(self.message, self.ack_code, self.error, raw=self.raw)
        return frame(ack, self.encoding or "utf-8")


# How the error of a stored frame that is not a whole message begins (``mllp.rejected_frame``).
INCOMPLETE_FRAME = "incomplete MLLP frame"


def is_incomplete(error: str) -> bool:
    """Whether a stored message is only part of what was sent (never imported)."""
    return error.startswith(INCOMPLETE_FRAME)


def facility_of(raw: bytes) -> str:
    """MSH-4's first component, read before the message is decoded (the sender's default
    encoding is looked up by it): a Chinese hospital's name is read as Chinese, never with
    its bytes replaced, so two hospitals are never taken for one."""
    parts = header_fields(raw)
    if parts is None or len(parts) < 4:
        return ""
    component = parts[1][:1] or b"^"  # MSH-2's first character
    return header_text(parts[3].split(component)[0], raw)


def shard_of(patient: PatientData, facility: str) -> int:
    """The shard of a message, from the identifier its patient is matched by first
    (interop.patients.match_patient), normalised as matching normalises it: the resident
    ID, else the first record or exam number with its issuer, else the passport.

    Messages naming one person by *different* identifiers (the resident ID in one, only a
    record number in another) can land in different shards, so in different processors:
    registering such a person twice at once is refused by the identifiers' unique indexes
    (the losing batch is imported again message by message and finds the patient), and a
    known patient is one processor's at a time (interop.patient_locks)."""
    if patient.id_number:
        key = "ID:" + normalise_id_number(patient.id_number)
    elif numbered := patient.record_numbers or patient.exam_numbers:
        kind = "MR" if patient.record_numbers else "EX"
        first = numbered[0]
        system = (first.authority or facility)[:64]  # as interop.patients._system
        key = f"{kind}:{system}:{normalise_plain(first.value)}"
    elif patient.passport:
        key = "PP:" + normalise_passport(patient.passport)
    else:
        return 0
    return zlib.crc32(key.encode()) % SHARDS


def examine(
    raw: bytes,
    peer: str,
    sources: SourceCache,
    known: Callable[[PatientData, str], bool] | None = None,
    check_keys: Callable[[ReadMessage, str, int], HL7Error | None] | None = None,
) -> Incoming:
    """Decode, parse and read the message (no database), noting any problem for the ACK.
    A PID without what registering a new patient takes (a name, birth date and sex) is
    accepted for a patient already enrolled under its identifiers: ``known`` says whether
    one is (the one database lookup, made only then); without it such a message is refused.
    ``check_keys``: asked only of the rare events that change what is stored under a key
    (``KEYED_EVENTS``: the stay of PV1-19, the prior patient of MRG-1), so such a message
    naming one not known is answered AE naming the field (``key_problem``)."""
    incoming = Incoming(raw=raw, peer=peer, received_at=timezone.now())
    incoming.facility = facility_of(raw)
    info = sources.get(incoming.facility)
    try:
        text, incoming.encoding = decode(raw, info.default_encoding if info else "utf-8")
        incoming.message = parse(text, incoming.encoding)
        data = read(
            incoming.message,
            exam_types=info.exam_types if info else DEFAULT_EXAM_TYPES,
            icd10=sources.icd10,
        )
        gap = data.patient.unregistrable
        if gap is not None and not (known and known(data.patient, incoming.facility)):
            raise gap
        incoming.shard = shard_of(data.patient, incoming.facility)
        incoming.urgent = is_urgent(data)
        if check_keys is not None and data.event in KEYED_EVENTS:
            problem = check_keys(data, incoming.facility, incoming.shard)
            if problem is not None:
                raise problem
    except HL7Error as error:
        incoming.error = error
    except Exception as exc:  # a defect of ours must still give the sender an answer
        incoming.error = HL7Error(f"the message could not be read ({type(exc).__name__})", code=207)
    return incoming


KEYED_EVENTS = STAY_EVENTS | {"A40"}


def key_problem(data: ReadMessage, facility: str, shard: int) -> HL7Error | None:
    """Why an A02/A11/A13 (the stay of PV1-19) or an A40 (the patient of MRG-1) names what
    is not known: None when it is, or when messages of its patients still wait to be
    imported (the admission it cancels may be one of them: the processor then decides)."""
    from careloop.clinical.models import Encounter
    from careloop.interop.adt_events import unknown_prior, unknown_visit
    from careloop.interop.models import InboundMessage
    from careloop.interop.patients import match_patient

    waiting = (InboundMessage.Status.RECEIVED, InboundMessage.Status.PROCESSING)
    if InboundMessage.objects.filter(status__in=waiting, shard=shard).exists():
        return None
    if data.event == "A40":
        assert data.prior_patient is not None
        known = match_patient(data.prior_patient, facility) is not None
        return None if known else unknown_prior()
    assert data.visit is not None
    patient = match_patient(data.patient, facility)
    number = data.visit.visit_number
    if (
        patient is None
        or not Encounter.objects.filter(patient=patient, visit_number=number[:50]).exists()
    ):
        return unknown_visit(number)
    return None


def default_organisation() -> Any:
    """Where an unknown sender's patients go until an administrator says otherwise."""
    from careloop.accounts.models import Organisation

    return Organisation.objects.filter(parent__isnull=True, is_active=True).order_by("id").first()


def source_for(facility: str, sources: SourceCache | None = None) -> SourceInfo | None:
    """The sending system for a facility, registered on first sight."""
    if sources is not None and (info := sources.get(facility)):
        return info
    source = SourceSystem.objects.filter(facility=facility).first()
    if source is None:
        organisation = default_organisation()
        if organisation is None:
            return None
        source, _ = SourceSystem.objects.get_or_create(
            facility=facility[:100], defaults={"organisation": organisation, "name": facility[:100]}
        )
    info = SourceInfo(
        source.pk, source.default_encoding, exam_types_of(source.exam_identifier_types)
    )
    if sources is not None:
        sources.put(facility, info)
    return info
