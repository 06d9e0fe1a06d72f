"""Importing stored messages into the health record, in batches right behind the listener.

A processor claims waiting messages (``status=received``) in id order, imports each inside
its own savepoint (one bad message never takes the others down), and marks it processed or
failed. Claims carry a time so a crashed processor's batch is taken over after
``STALE_CLAIM``.

Several processors may run side by side (``careloop mllp --processors N``, or
``careloop process_inbound --part K/N`` on other machines), each claiming its own part of the
messages: the listener files each message under a shard, a hash of the patient's identifier
(``ingest.shard_of``), and processor K of N takes the shards that are K modulo N. One
patient's messages, as long as they name the patient by the same identifier, are therefore
imported by one processor, in the order received, so the rules see the results before them
(a patient named by different identifiers: see ``patient_locks``). Every processor must be
told the same N.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from careloop import heap
from careloop.bulk import bulk_cursor
from careloop.clinical import catalogue as catalogue_module
from careloop.clinical.assessment import LOINC_SYSTEMS, ResultInput
from careloop.clinical.models import Condition, Encounter, Icd10Code, Procedure, Source
from careloop.clinical.panels import with_pressures
from careloop.clinical.services import ReportInput, do_record_results
from careloop.interop import patient_locks
from careloop.interop.adt_events import stay_event, unknown_prior, unknown_visit
from careloop.interop.deaths import record_death
from careloop.interop.hl7.message import HL7Error, decode, parse
from careloop.interop.hl7.read import (
    STAY_EVENTS,
    Order,
    ReadMessage,
    Visit,
    exam_types_of,
    read,
)
from careloop.interop.ingest import is_incomplete, source_for
from careloop.interop.models import CodeMapping, InboundMessage, SourceSystem
from careloop.interop.patients import (
    add_identifiers,
    match_patient,
    register_patient,
    update_demographics,
)
from careloop.interop.replaced import replace_earlier, sent_again
from careloop.rules.engine import run_for_event
from careloop.rules.models import Trigger
from careloop.write_gate import relaxed_commit, write_gate

logger = logging.getLogger("careloop.interop")
STALE_CLAIM = timedelta(minutes=5)
FULL_SEARCH = 5.0  # seconds between claims that search all waiting messages, not past the last
# Seconds a processor keeps its sending systems, code mappings and ICD-10 names between
# batches (as the listener keeps its sending systems): an edit takes effect within this.
CONTEXT_KEPT = 10.0
# A processor that keeps up claims a few messages at a time, and a batch has a fixed cost
# (a dozen statements, a commit): after a claim smaller than SMALL_CLAIM it lets GATHER
# seconds' worth of messages arrive before the next. That much is added to result→alert.
SMALL_CLAIM = 50
GATHER = 0.1
BATCH = 200
# Results are written in transactions of at most this many messages, so the write lock
# (SQLite has one) is never held for long and the listener's commits (hence its ACKs) are
# not held up behind a large import. PostgreSQL has no such lock: there a whole claim is one
# transaction, which spreads each statement's fixed cost over more messages.
WRITE_CHUNK = 40


def write_chunk() -> int:
    return WRITE_CHUNK if connection.vendor == "sqlite" else BATCH


@dataclass
class BatchResult:
    processed: int = 0
    failed: int = 0
    observations: int = 0
    alerts: int = 0
    fell_back: int = 0  # results the fast path could not take, imported one by one
    put_back: int = 0  # results left waiting: a patient of theirs stayed locked


@dataclass(frozen=True)
class Part:
    """Processor ``index`` of ``count``: it imports the messages whose shard is ``index``
    modulo ``count`` (a shard is a hash of the patient, see ingest.shard_of)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Part:
        """``"K/N"``: processor K (from 0) of N."""
        index, _, count = text.partition("/")
        try:
            part = cls(int(index), int(count))
        except ValueError:
            raise ValueError(f"a part is written K/N, e.g. 0/2, not {text!r}") from None
        if not 0 <= part.index < part.count:
            raise ValueError(f"processor {part.index} of {part.count} does not exist")
        return part

    def condition(self) -> tuple[str, list[int]]:
        if self.count == 1:
            return "", []
        return " AND shard %% %s = %s", [self.count, self.index]


WHOLE = Part()


def claim(limit: int = BATCH, part: Part = WHOLE, after: int = 0) -> list[int]:
    """Mark up to ``limit`` waiting messages of our part, with ids above ``after``, as being
    processed by us; return their ids.

    ``after`` is the processor's last claimed id. Every message is updated twice after it
    is stored (claimed, then processed), and until VACUUM passes, the status index still
    lists each one under "received": a search from the start of that range steps over
    every message imported since, 2 ms a claim on PostgreSQL after 40,000 messages. The
    listener commits its messages in id order, so none waits below the last one claimed;
    the processor still searches from the start now and then (``FULL_SEARCH``)."""
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    waiting = InboundMessage.Status.RECEIVED
    ours, params = part.condition()
    if after:
        ours, params = f"{ours} AND id > %s", [*params, after]
    with connection.cursor() as cursor:  # a read first: an idle poll takes no write lock
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE status = %s{ours} LIMIT 1",  # noqa: S608
            [waiting, *params],
        )
        if cursor.fetchone() is None:
            return []
    return _take(ours, params, limit)


def _take(where: str, params: list[Any], limit: int) -> list[int]:
    """Mark the first ``limit`` waiting messages (by id) that ``where`` also selects as being
    processed by us; return their ids."""
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with write_gate(queue="processors"), transaction.atomic(), bulk_cursor() as cursor:
        relaxed_commit()
        cursor.execute(
            f"UPDATE {table} SET status = %s, claimed_at = %s WHERE id IN ("  # noqa: S608
            f"SELECT id FROM {table} WHERE status = %s{where} ORDER BY id LIMIT %s{skip_locked}"
            ") RETURNING id",
            [
                InboundMessage.Status.PROCESSING,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                InboundMessage.Status.RECEIVED,
                *params,
                limit,
            ],
        )
        return sorted(row[0] for row in cursor.fetchall())


URGENT_SHARDS = 20  # shards with a critical value taken at once, the longest waiting first
ORDINARY_EVERY = 1.0  # seconds: however many critical values wait, an ordinary claim then


def claim_urgent(limit: int = BATCH, part: Part = WHOLE) -> list[int]:
    """Like ``claim``, the messages waiting in the shards of our part that hold a critical
    value (``InboundMessage.urgent``), in id order: each such message with the messages of
    its patients waiting before it, so a critical value jumps a backlog of ordinary results
    and every patient's messages are still imported in the order received."""
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    waiting = InboundMessage.Status.RECEIVED
    ours, params = part.condition()
    with connection.cursor() as cursor:  # inbound_urgent_waiting: empty when none waits
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE status = %s AND urgent = %s{ours} LIMIT 1",  # noqa: S608
            [waiting, True, *params],
        )
        if cursor.fetchone() is None:
            return []
    shards = (
        f"SELECT shard FROM {table} WHERE status = %s AND urgent = %s{ours} "  # noqa: S608
        "ORDER BY id LIMIT %s"
    )
    return _take(
        f"{ours} AND shard IN ({shards})",
        [*params, waiting, True, *params, URGENT_SHARDS],
        limit,
    )


def default_processors() -> int:
    """How many processors ``careloop mllp`` starts unless told: two on PostgreSQL (one
    alone waits on the server for a third of its time; measured in docs/benchmarks.md,
    hl7_ingest), one on SQLite, whose single writer the listener needs too."""
    return 2 if connection.vendor == "postgresql" else 1


PART_NAMESPACE = 0x4350  # "CP": the advisory locks of processor parts (careloop.scheduler)


def part_lock(part: Part, sqlite_database: str | None = None) -> Any:
    """The lock a processor holds for its part, on every machine of the deployment.

    Every machine running `careloop serve` (or `careloop mllp`) starts processors 0/2 and
    1/2: without this, two processors would take one part, and one patient's messages could
    be imported by two processors at once, out of the order received. The processor that
    holds its part's lock imports; one started for the same part elsewhere stands by and
    takes over when the holder stops."""
    from careloop.scheduler import ClusterLock

    key = part.count * 65536 + part.index
    return ClusterLock(
        PART_NAMESPACE, key, f"processor-{part.index}-of-{part.count}", sqlite_database
    )


def release_claims_of(part: Part) -> int:
    """Taking a part's lock: claims of the part still marked as being processed were made by
    a processor that stopped (no other holds the part): put them back at once, rather than
    after ``STALE_CLAIM``."""
    ours, params = part.condition()
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    with write_gate(queue="processors"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, claimed_at = NULL WHERE status = %s{ours}",  # noqa: S608
            [InboundMessage.Status.RECEIVED, InboundMessage.Status.PROCESSING, *params],
        )
        return cursor.rowcount


def release_stale_claims() -> int:
    """Claims older than STALE_CLAIM belong to a processor that died: put them back."""
    return InboundMessage.objects.filter(
        status=InboundMessage.Status.PROCESSING,
        claimed_at__lt=timezone.now() - STALE_CLAIM,
    ).update(status=InboundMessage.Status.RECEIVED, claimed_at=None)


class Context:
    """What a batch needs once: catalogue snapshot, sending systems, code mappings."""

    def __init__(self) -> None:
        self.read_at = time.monotonic()
        self.catalogue = catalogue_module.current()
        self.sources: dict[int, SourceSystem] = {}
        self.mappings: dict[int, dict[str, str]] = {}
        self.icd10 = dict(Icd10Code.objects.values_list("code", "name"))
        self._exam_types: dict[int, frozenset[str]] = {}

    def organisation_paths(self) -> dict[int, str]:
        if not hasattr(self, "_paths"):
            from careloop.accounts.models import Organisation

            self._paths = dict(Organisation.objects.values_list("pk", "path"))
        return self._paths

    def source(self, message: InboundMessage) -> SourceSystem:
        return self.source_by_id(message.source_id, message.sending_facility)

    def source_by_id(self, source_id: int | None, facility: str) -> SourceSystem:
        if source_id is None:
            # Rejected before its sender was known: register the sender now.
            info = source_for(facility) if facility else None
            if info is None:
                raise HL7Error("the message names no sending facility (MSH-4)", code=101)
            source_id = info.id
        if source_id not in self.sources:
            self.sources[source_id] = SourceSystem.objects.select_related("organisation").get(
                pk=source_id
            )
            self.mappings[source_id] = dict(
                CodeMapping.objects.filter(source_id=source_id).values_list("local_code", "loinc")
            )
        return self.sources[source_id]

    def exam_types(self, source: SourceSystem) -> frozenset[str]:
        if source.pk not in self._exam_types:
            self._exam_types[source.pk] = exam_types_of(source.exam_identifier_types)
        return self._exam_types[source.pk]


def process_batch(ids: Iterable[int], context: Context | None = None) -> BatchResult:
    """Import claimed messages: results together on the fast path (see interop/batch.py);
    admissions, and everything when the fast path fails, one by one. ``context`` may be
    kept from an earlier batch (see ``run_forever``); by default it is read afresh."""
    from careloop.interop.batch import BatchImporter

    context = context or Context()
    ids = list(ids)
    outcome = BatchResult()
    results = list(
        InboundMessage.objects.filter(pk__in=ids, message_type="ORU^R01").values_list(
            "pk", flat=True
        )
    )
    done: set[int] = set()
    size = write_chunk()
    for start in range(0, len(results), size):
        chunk = results[start : start + size]
        try:
            observations, alerts = BatchImporter(context).run(chunk)
        except patient_locks.PatientBusy:  # another processor is stuck with one: later
            later = [pk for pk in ids if pk not in done]  # this chunk and all after it, in order
            logger.warning("a patient stayed locked: %d messages put back", len(later))
            _put_back(later)
            done.update(later)
            outcome.put_back += len(later)
            break
        except Exception as exc:  # fall back to one by one, which isolates the culprit
            logger.info("batch import fell back to single messages: %s", type(exc).__name__)
            outcome.fell_back += len(chunk)
        else:
            done.update(chunk)
            outcome.processed += len(chunk)
            outcome.observations += observations
            outcome.alerts += alerts
    rest = InboundMessage.objects.filter(pk__in=[i for i in ids if i not in done]).order_by("id")
    _one_by_one(list(rest), context, outcome)
    return outcome


def _put_back(ids: list[int]) -> None:
    """Claimed messages back to waiting (``run_forever`` then claims from the start)."""
    with write_gate(queue="processors"):
        InboundMessage.objects.filter(pk__in=ids, status=InboundMessage.Status.PROCESSING).update(
            status=InboundMessage.Status.RECEIVED, claimed_at=None
        )


def _one_by_one(messages: list[InboundMessage], context: Context, outcome: BatchResult) -> None:
    busy = []
    with (
        patient_locks.taking() as taker,
        write_gate(queue="processors"),
        transaction.atomic(),
    ):
        for message in messages:
            try:
                try:
                    with transaction.atomic():
                        observations, alerts, patient_id = import_message(message, context, taker)
                except IntegrityError:
                    # Another processor registered the same person at the same moment (under
                    # another identifier, so in another shard) and has committed: imported
                    # again, the message finds that patient (interop.patients).
                    with transaction.atomic():
                        observations, alerts, patient_id = import_message(message, context, taker)
            except patient_locks.PatientBusy:  # another processor has the patient: later,
                busy = [m.pk for m in messages if m.pk >= message.pk]  # with all after it
                break
            except Exception as exc:  # every failure is recorded on the message, not lost
                logger.warning("inbound message %s failed: %s", message.pk, type(exc).__name__)
                message.status = InboundMessage.Status.FAILED
                message.error = str(exc)[:2000] or type(exc).__name__
                outcome.failed += 1
            else:
                message.status = InboundMessage.Status.PROCESSED
                message.error = ""
                message.patient_id = patient_id
                outcome.processed += 1
                outcome.observations += observations
                outcome.alerts += alerts
            message.attempts += 1
            message.processed_at = timezone.now()
            message.save(update_fields=["status", "error", "patient", "attempts", "processed_at"])
        if busy:
            logger.info("%d messages put back: their patients were busy", len(busy))
            _put_back(busy)
            outcome.put_back += len(busy)


def import_message(
    message: InboundMessage, context: Context, taker: patient_locks.Taker | None = None
) -> tuple[int, int, int]:
    """Import one message; returns (observations stored, alerts raised, patient id).
    ``taker``: the patient is taken first (another processor holding them: PatientBusy)."""
    source = context.source(message)
    text, codec = decode(bytes(message.raw), message.encoding or source.default_encoding)
    data = read(parse(text, codec), exam_types=context.exam_types(source), icd10=context.icd10)
    facility = message.sending_facility or source.facility
    patient = match_patient(data.patient, facility)
    if patient is None and data.event in STAY_EVENTS:
        assert data.visit is not None  # read.py: these events need PV1-19
        raise unknown_visit(data.visit.visit_number)
    if patient is None:
        patient = register_patient(data.patient, source.organisation, facility)
    else:
        if taker is not None:
            taker.take(patient.pk)
            patient.refresh_from_db()  # as it is now ours: no one else's change overwritten
        add_identifiers(patient, data.patient, facility)
    if data.prior_patient is not None and taker is not None:  # A40: both records ours
        prior = match_patient(data.prior_patient, facility)
        if prior is not None and prior.pk != patient.pk:
            taker.take(prior.pk)
    moment = data.sent_at or message.received_at
    if data.message_type.startswith("ADT"):
        apply_adt(patient, data, facility, moment, message.pk, context)
        return 0, 0, patient.pk
    encounter = _encounter_for(patient, data.visit, moment, create=True)
    observations = alerts = 0
    for order in data.orders:
        results = with_pressures(
            [
                _result_input(result, order, context.mappings[source.pk], moment)
                for result in order.results
            ]
        )
        order_number = order.filler_number or order.placer_number
        reported_at = order.observed_at or moment
        # The laboratory's results of this order sent again replace those sent before.
        replace_earlier(
            [sent_again(message.pk, patient.pk, source.pk, order_number, reported_at, results)]
        )
        stored = do_record_results(
            patient,
            ReportInput(
                name=order.name or order.code,
                code=order.code,
                code_system=order.coding_system,
                effective_at=reported_at,
                status=_report_status(order),
                conclusion="\n".join(order.notes),
                filler_order_number=order_number,
                issued_at=data.sent_at,
            ),
            results,
            source=Source.HL7,
            source_label=source.name or facility,
            message_id=message.pk,
            encounter_id=encounter.pk if encounter else None,
            catalogue=context.catalogue,
        )
        observations += stored.observations
        alerts += len(stored.alerts)
    return observations, alerts, patient.pk


def _report_status(order: Order) -> str:
    return {
        "F": "final",
        "C": "amended",
        "P": "preliminary",
        "X": "cancelled",
        "I": "registered",
        "R": "partial",
    }.get(order.status, "final")


def _result_input(
    result: Any, order: Order, mapping: dict[str, str], moment: datetime
) -> ResultInput:
    if result.coding_system.upper() in LOINC_SYSTEMS:
        loinc, local_code, local_system = result.code, "", ""
    else:
        loinc = mapping.get(result.code, "")
        local_code, local_system = result.code, result.coding_system or "local"
    return ResultInput(
        name=result.name or result.code,
        observed_at=result.observed_at or moment,
        loinc=loinc,
        local_code=local_code,
        local_system=local_system,
        value=result.value,
        comparator=result.comparator,
        text=result.text,
        unit=result.unit,
        reference=result.reference,
        flags=result.flags,
        status=result.status,
        notes=result.notes,
    )


_CLASS_KIND = {
    "I": Encounter.Kind.INPATIENT,
    "O": Encounter.Kind.OUTPATIENT,
    "E": Encounter.Kind.EMERGENCY,
}


def _encounter_for(
    patient: Any, visit: Visit | None, moment: datetime, *, create: bool, event: str = ""
) -> Encounter | None:
    """The stay a message is about, by its visit number (PV1-19). An admission or discharge
    without one is still a stay: a discharge closes the patient's latest open stay of that
    class, else one is made, so the discharge (and what it enrols) is not lost."""
    if visit is None:
        return None
    kind = _CLASS_KIND.get(visit.patient_class, Encounter.Kind.OUTPATIENT)
    if visit.visit_number:
        encounter = Encounter.objects.filter(
            patient=patient, visit_number=visit.visit_number
        ).first()
    elif create and event in ("A01", "A03"):
        open_stays = Encounter.objects.filter(
            patient=patient, kind=kind, status=Encounter.Status.IN_PROGRESS
        )
        encounter = open_stays.order_by("-started_at").first() if event == "A03" else None
    else:
        return None
    if encounter is None and create:
        encounter = Encounter.objects.create(
            patient=patient,
            organisation_id=patient.organisation_id,
            kind=kind,
            status=Encounter.Status.IN_PROGRESS,
            department=visit.department[:50],
            # a stay first heard of at its discharge began no later than it ended
            started_at=visit.admitted_at
            or (visit.discharged_at if event == "A03" else None)
            or moment,
            visit_number=visit.visit_number[:50],
            source=Source.HL7,
        )
    return encounter


def apply_adt(
    patient: Any,
    data: ReadMessage,
    facility: str,
    moment: datetime,
    message_id: int,
    context: Context,
) -> None:
    """A01 admit, A04 register, A03 discharge (with its diagnoses and procedures), A08
    update; A02 transfer, A11 cancel admission, A13 cancel discharge (adt_events)."""
    if data.event in STAY_EVENTS:
        assert data.visit is not None
        stay_event(patient, data.event, data.visit, f"hl7:{facility}"[:150])
        return
    if data.event == "A40":
        _merge(patient, data, facility)
        return
    if data.event in ("A01", "A04", "A08"):
        update_demographics(patient, data.patient, facility)
    encounter = _encounter_for(patient, data.visit, moment, create=True, event=data.event)
    if encounter is not None:
        visit = data.visit
        assert visit is not None
        if visit.department:
            encounter.department = visit.department[:50]
        if visit.location:
            encounter.location = visit.location[:100]
        if visit.admitted_at:
            encounter.started_at = visit.admitted_at
        if visit.charges is not None:
            encounter.charges = visit.charges
        if data.event == "A03":
            encounter.ended_at = visit.discharged_at or moment
            encounter.status = Encounter.Status.FINISHED
            if encounter.ended_at < encounter.started_at:  # the stored admission is later
                same_day = timezone.localdate(encounter.ended_at) == timezone.localdate(
                    encounter.started_at
                )
                if same_day:
                    encounter.ended_at = encounter.started_at  # a discharge dated by its day
            if encounter.ended_at < encounter.started_at:
                raise HL7Error(
                    "PV1-45: the discharge time is before the stay's admission time",
                    code=102,
                    segment="PV1",
                    field=45,
                )
        encounter.save()
    _record_death(patient, data, encounter, facility, moment)
    added = False
    for diagnosis in data.diagnoses:
        code = diagnosis.code  # well formed (read.py): at most 12 characters
        exists = Condition.objects.filter(
            patient=patient, icd10_code=code, encounter=encounter
        ).exists()
        if exists:
            continue
        name = (
            diagnosis.name or context.icd10.get(code) or context.icd10.get(code.split(".")[0], code)
        )
        Condition.objects.create(
            patient=patient,
            icd10_code=code,
            name=name[:100],
            encounter=encounter,
            onset_date=(diagnosis.recorded_at or moment).date(),
            source=Source.HL7,
        )
        added = True
    added = _add_procedures(patient, data, encounter, message_id) or added
    # Events after the diagnoses, so a discharge enrols by the stay's diagnoses.
    if encounter is not None and data.event in ("A01", "A03"):
        run_for_event(Trigger.ENCOUNTER, [patient.pk])
    if added:
        run_for_event(Trigger.DIAGNOSIS, [patient.pk])


def _merge(survivor: Any, data: ReadMessage, facility: str) -> None:
    """ADT^A40: the patient of MRG-1 merged into the PID's (``interop.merge``); the prior
    patient not known fails the message naming MRG-1 (as the listener answers it)."""
    from careloop.interop.merge import merge_patients

    assert data.prior_patient is not None
    prior = match_patient(data.prior_patient, facility)
    if prior is None:
        raise unknown_prior()
    if prior.pk == survivor.pk:
        return  # merged already (the message sent again), or one record all along
    update_demographics(survivor, data.patient, facility)
    merge_patients(prior, survivor, f"hl7:{facility}"[:150])


def _add_procedures(
    patient: Any, data: ReadMessage, encounter: Encounter | None, message_id: int
) -> bool:
    """The message's PR1 procedures not stored yet (the same code, visit and time: an A08
    sending the stay's procedures again adds none); whether any was added."""
    added = False
    for done in data.procedures:
        exists = Procedure.objects.filter(
            patient=patient,
            code_system=done.coding_system,
            code=done.code,
            encounter=encounter,
            performed_at=done.performed_at,
        ).exists()
        if exists:
            continue
        Procedure.objects.create(
            patient=patient,
            organisation_id=patient.organisation_id,
            encounter=encounter,
            code_system=done.coding_system,
            code=done.code,
            name=done.name,
            is_surgery=done.surgery,
            performed_at=done.performed_at,
            note=done.note,
            source=Source.HL7,
            source_message_id=message_id,
        )
        added = True
    return added


# PV1-36 discharge dispositions that say the patient died: the national front sheet's 离院方式
# 5 (死亡), and the UB-04 "expired" codes HL7 table 0112 is commonly filled with.
DIED_AT_DISCHARGE = frozenset({"5", "20", "40", "41", "42", "死亡"})


def _record_death(
    patient: Any, data: ReadMessage, encounter: Encounter | None, facility: str, moment: datetime
) -> None:
    """A death the message reports (PID-30 "Y" or a PID-29 date, or a discharge whose PV1-36
    says the patient died), recorded before the discharge's events run, which would otherwise
    put the patient on a follow-up pathway."""
    visit = data.visit
    at_discharge = (
        data.event == "A03" and visit is not None and visit.disposition in DIED_AT_DISCHARGE
    )
    if not (data.patient.deceased or at_discharge):
        return
    when = data.patient.died_at or (encounter.ended_at if encounter else None) or moment
    record_death(
        patient,
        timezone.localdate(when),
        summary="death reported by an inbound message",
        actor_label=f"hl7:{facility}"[:150],
    )


class BeingImported(Exception):
    """The message is being imported right now (a reprocess clicked twice, or a processor has
    claimed it): importing it again beside that would store its results twice."""

    def __init__(self, since: datetime) -> None:
        super().__init__(f"it is being imported right now (since {since.isoformat()})")
        self.since = since


def reprocess(message: InboundMessage) -> BatchResult:
    """Import a stored message again (after a fix to a mapping or a sending system).

    What an earlier run created from it (reports, observations, and critical-value alerts
    nobody has picked up yet) is removed first, so a message is never imported twice; an
    alert someone has already acknowledged or handled is kept with its history.
    ``BeingImported`` while it is being imported (claimed less than ``STALE_CLAIM`` ago)."""
    from careloop.clinical.models import DiagnosticReport, Observation
    from careloop.followup.models import Alert
    from careloop.interop.webhook_events import alerts_withdrawn
    from careloop.system_texts import RESULT_REIMPORTED, stored

    if is_incomplete(message.error):
        raise HL7Error(
            "only part of this message arrived (its MLLP frame was cut or too large); "
            "the sender must send it again",
            reject=True,
        )
    with transaction.atomic():
        status, claimed_at = (
            InboundMessage.objects.select_for_update()
            .filter(pk=message.pk)
            .values_list("status", "claimed_at")
            .get()
        )
        if (
            status == InboundMessage.Status.PROCESSING
            and claimed_at is not None
            and claimed_at > timezone.now() - STALE_CLAIM  # else its processor has stopped
        ):
            raise BeingImported(claimed_at)
        unhandled = Alert.objects.filter(
            observation__source_message=message, status=Alert.Status.OPEN
        )
        alerts_withdrawn(unhandled.values_list("pk", flat=True), stored(RESULT_REIMPORTED))
        unhandled.delete()
        Observation.objects.filter(source_message=message).delete()
        DiagnosticReport.objects.filter(source_message=message).delete()
        if not message.accepted:
            # A rejected message comes in again through the listener's checks, in the
            # sending system's default encoding as it is now (the fix may be just that).
            default = message.source.default_encoding if message.source else "utf-8"
            text, codec = decode(bytes(message.raw), message.encoding or default)
            parsed = parse(text, codec)
            read(parsed, icd10=dict(Icd10Code.objects.values_list("code", "name")))
            # What the listener could not read when it refused the message, for its page and
            # the lists (they showed a reprocessed message with no type nor control id).
            InboundMessage.objects.filter(pk=message.pk).update(
                message_type=parsed.message_type[:20],
                control_id=parsed.control_id[:64],
                version=parsed.version[:10],
                sending_application=parsed.sending_application[:100],
                sending_facility=message.sending_facility or parsed.sending_facility[:100],
                encoding=codec,
            )
        InboundMessage.objects.filter(pk=message.pk).update(
            status=InboundMessage.Status.PROCESSING, claimed_at=timezone.now()
        )
    return process_batch([message.pk])


def run_forever(stop: threading.Event, *, poll: float = 0.05, part: Part = WHOLE) -> None:
    """The processor loop: claim, import, repeat; sleep briefly when there is nothing."""
    last_sweep = last_full_search = 0.0
    after = 0  # the last id claimed: nothing of ours waits below it (see claim)
    last_ordinary = time.monotonic()  # the last claim that was not of critical values
    context: Context | None = None
    while not stop.is_set():
        if time.monotonic() - last_sweep > 60:
            released = release_stale_claims()
            if released:
                logger.warning("took over %d messages from a stopped processor", released)
                after = 0
            last_sweep = time.monotonic()
        if time.monotonic() - last_full_search > FULL_SEARCH:
            after, last_full_search = 0, time.monotonic()
        # Critical values first, but an ordinary claim at least every ORDINARY_EVERY: a
        # patient whose results keep coming critical (a monitor in intensive care) must not
        # hold up everyone else's. ``after`` stays: the ordinary messages wait above it.
        ordinary_due = time.monotonic() - last_ordinary >= ORDINARY_EVERY
        ids = [] if ordinary_due else claim_urgent(part=part)
        urgent = bool(ids)
        if not urgent:
            ids = claim(part=part, after=after)
            last_ordinary = time.monotonic()
        if ids:
            after = after if urgent else ids[-1]
            if context is None or time.monotonic() - context.read_at > CONTEXT_KEPT:
                context = Context()
            result = process_batch(ids, context)
            if result.put_back:  # below ``after`` now: the next claim searches from the start
                after = 0
            heap.settle_once()  # the first batch has loaded everything kept from now on
            logger.debug("processed %d, failed %d", result.processed, result.failed)
            if len(ids) < SMALL_CLAIM and not urgent:
                stop.wait(GATHER)
        else:
            stop.wait(poll)
        _drop_broken_connection()


def _drop_broken_connection() -> None:
    """Keep the connection (and SQLite's page cache with it) across batches; reconnect
    only when it broke."""
    if connection.connection is not None and connection.errors_occurred:
        connection.errors_occurred = False
        if not connection.is_usable():
            connection.close()
