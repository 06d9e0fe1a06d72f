"""The fast path for importing result messages: a claimed batch in a handful of statements.

Two phases, so the database's write lock (SQLite has one) is held only briefly and the
listener's commits are not held up:

* prepare (no writes): read every message, find the patients with one query per
  identifier kind, grade every observation;
* write (one short transaction): every row was built and converted (encrypted, hashed)
  beforehand, so the transaction only runs statements: enrol new patients, insert reports
  (one INSERT … RETURNING) and observations (one executemany), alert critical values, mark
  the messages processed.

Anything unexpected raises; the caller then imports the batch message by message, each in
its own savepoint, so one bad message never costs the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from careloop.audit.models import AuditEvent
from careloop.bulk import BulkInsert, bulk_cursor, model_row
from careloop.clinical.assessment import Assessment, assess
from careloop.clinical.models import DiagnosticReport, Observation, Source
from careloop.clinical.services import OBSERVATION_FIELDS, observation_row
from careloop.clinical.settle import settle
from careloop.followup.services import critical_value_alert
from careloop.interop import patient_locks
from careloop.interop.hl7.message import decode, parse
from careloop.interop.hl7.read import PatientData, ReadMessage, read
from careloop.interop.models import InboundMessage
from careloop.interop.replaced import (
    Sent,
    SentAgainInBatch,
    item_of,
    replace_earlier,
    same_order,
)
from careloop.patients.identity import age_on
from careloop.patients.models import Patient, PatientIdentifier
from careloop.patients.services import new_card_numbers
from careloop.rules.engine import (
    Evaluation,
    Pending,
    abnormal_patients,
    apply,
    evaluate_results,
    pending_results,
)
from careloop.rules.engine import Profile as RuleProfile
from careloop.sql_lists import pg_array
from careloop.write_gate import relaxed_commit, write_gate

REPORT_FIELDS = [
    "patient_id",
    "organisation_id",
    "code",
    "code_system",
    "name",
    "status",
    "effective_at",
    "issued_at",
    "conclusion",
    "filler_order_number",
    "source",
    "source_message_id",
    "created_at",
]
REPORT_STATUS = {
    "C": "amended",
    "P": "preliminary",
    "X": "cancelled",
    "I": "registered",
    "R": "partial",
}
MESSAGE_FIELDS = ["pk", "raw", "encoding", "source_id", "sending_facility", "received_at"]


@dataclass
class Profile:
    """What grading and alerting need of a patient, found or about to be enrolled."""

    pk: int | None
    sex: str
    birth_date: date
    organisation_id: int
    responsible_doctor_id: int | None
    path: str

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)


ENROL_FIELDS = [
    "card_number",
    "name",
    "sex",
    "birth_date",
    "id_number",
    "id_number_hash",
    "passport",
    "passport_hash",
    "phone",
    "phone_hash",
    "phone_kind",
    "address",
    "organisation_id",
    "preferred_channel",
    "quiet_hours_start",
    "quiet_hours_end",
    "digital_literacy",
    "lives_alone",
    "created_at",
    "updated_at",
]
IDENTIFIER_FIELDS = ["patient_id", "kind", "system", "value", "value_hash"]
AUDIT_FIELDS = [
    "at",
    "actor_label",
    "organisation_id",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "summary",
    "changes",
    "via",
    "user_agent",
]


@dataclass
class Writes:
    """A batch's rows, converted ahead of its transaction (see ``_prepare_writes``)."""

    patient: BulkInsert = field(default_factory=lambda: BulkInsert(Patient, ENROL_FIELDS))
    identifier: BulkInsert = field(
        default_factory=lambda: BulkInsert(PatientIdentifier, IDENTIFIER_FIELDS)
    )
    audit: BulkInsert = field(default_factory=lambda: BulkInsert(AuditEvent, AUDIT_FIELDS))
    report: BulkInsert = field(default_factory=lambda: BulkInsert(DiagnosticReport, REPORT_FIELDS))
    observation: BulkInsert = field(
        default_factory=lambda: BulkInsert(Observation, OBSERVATION_FIELDS)
    )
    numbers: list[list[Any]] = field(default_factory=list)  # for patients already known
    new_keys: list[str] = field(default_factory=list)
    patients: list[list[Any]] = field(default_factory=list)
    new_numbers: list[tuple[str, list[Any]]] = field(default_factory=list)
    new_audits: list[tuple[str, list[Any]]] = field(default_factory=list)
    reports: list[tuple[Item, list[Any]]] = field(default_factory=list)
    observations: list[tuple[Item, int, list[Any]]] = field(default_factory=list)
    # the critical ones among them: (index in ``observations``, their fields, assessment)
    critical: list[tuple[int, dict[str, Any], Assessment]] = field(default_factory=list)
    # known patients' orders reported again: their earlier results are replaced
    sent_again: list[Sent] = field(default_factory=list)


@dataclass
class Item:
    message_id: int
    data: ReadMessage
    facility: str
    source: Any
    received_at: datetime
    profile: Profile | None = None
    new_key: str = ""  # set when the patient is enrolled by this batch
    graded: list[list[Assessment]] = field(default_factory=list)  # per order


def _system(authority: str, facility: str) -> str:
    return (authority or facility)[:64]


class MergedRecord(Exception):
    """A message names a patient record merged into another: imported one by one, where
    ``match_patient`` takes it to the surviving record (rare: not looked for in bulk)."""


def _numbers(data: PatientData, facility: str) -> list[tuple[str, str, str]]:
    return [
        (str(PatientIdentifier.Kind.MRN), _system(i.authority, facility), i.value)
        for i in data.record_numbers
    ] + [
        (str(PatientIdentifier.Kind.EXAM), _system(i.authority, facility), i.value)
        for i in data.exam_numbers
    ]


class BatchImporter:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.now = timezone.now()
        self.new: dict[str, tuple[PatientData, Any]] = {}
        self.missing_numbers: dict[tuple[str, str, str], int] = {}

    def run(self, message_ids: list[int]) -> tuple[int, int]:
        """Import the ORU^R01 messages ``message_ids``; returns (observations, alerts)."""
        items = self._read(message_ids)
        self._find_patients(items)
        self._grade(items)
        writes = self._prepare_writes(items)
        known = [item.profile.pk for item in items if item.profile and item.profile.pk]
        # From reading their record to the commit, these patients are ours alone: another
        # processor with a message naming one of them otherwise waits (see patient_locks).
        with patient_locks.holding(known):
            keys, found = self._evaluate_rules(items)
            with write_gate(queue="processors"), transaction.atomic():
                relaxed_commit()
                stored = self._write(items, writes)
                self._apply_rules(items, keys, found)
        return stored

    # ------------------------------------------------------------------ rules

    def _evaluate_rules(self, items: list[Item]) -> tuple[dict[str, int], Evaluation]:
        """Risk models and rules on the batch's results before the write lock: the stored
        record is read now, the new results are added to it in memory; a patient enrolled
        by this batch is known by a negative id until ``_apply_rules``."""
        keys: dict[str, int] = {}
        pending = Pending()
        rows = []
        for item in items:
            profile = item.profile
            assert profile is not None
            if profile.pk is not None:
                pk = profile.pk
            else:
                pk = keys.setdefault(item.new_key, -(len(keys) + 1))
                pending.profiles[pk] = RuleProfile(
                    profile.sex, profile.birth_date, "", profile.path
                )
            rows += [(pk, a.fields) for graded in item.graded for a in graded]
        pending, new_codes = pending_results(rows, pending)
        found = evaluate_results(new_codes, now=self.now, pending=pending)
        found.patients = abnormal_patients(rows)
        return keys, found

    def _apply_rules(self, items: list[Item], keys: dict[str, int], found: Evaluation) -> None:
        """Inside the transaction, once the new patients have ids: store and fire."""
        enrolled = {
            keys[item.new_key]: item.profile.pk
            for item in items
            if item.new_key and item.profile is not None and item.profile.pk is not None
        }
        apply(found, enrolled=enrolled)

    # ------------------------------------------------------------------ prepare

    def _read(self, message_ids: list[int]) -> list[Item]:
        items = []
        rows = (
            InboundMessage.objects.filter(pk__in=message_ids)
            .order_by("id")
            .values_list(*MESSAGE_FIELDS)
        )
        for pk, raw, encoding, source_id, facility, received_at in rows:
            source = self.context.source_by_id(source_id, facility)
            text, codec = decode(bytes(raw), encoding or source.default_encoding)
            items.append(
                Item(
                    pk,
                    read(
                        parse(text, codec),
                        exam_types=self.context.exam_types(source),
                        icd10=self.context.icd10,
                    ),
                    facility or source.facility,
                    source,
                    received_at,
                )
            )
        return items

    def _find_patients(self, items: list[Item]) -> None:
        ids = {item.data.patient.id_number for item in items if item.data.patient.id_number}
        id_hashes = {h: number for number in ids for h in Patient.index_hashes("id_number", number)}
        numbers = {n for item in items for n in _numbers(item.data.patient, item.facility)}
        number_hashes = {
            h: value for _, _, value in numbers for h in PatientIdentifier.index_hashes(value)
        }
        by_id: dict[str, int] = {}
        for patient_pk, digest in Patient.objects.filter(
            id_number_hash__in=list(id_hashes)
        ).values_list("pk", "id_number_hash"):
            by_id[id_hashes[digest]] = patient_pk
        by_number: dict[tuple[str, str, str], int] = {}
        for kind, system, digest, patient_pk in PatientIdentifier.objects.filter(
            value_hash__in=list(number_hashes)
        ).values_list("kind", "system", "value_hash", "patient_id"):
            by_number[(kind, system, number_hashes[digest].upper())] = patient_pk
        found: dict[int, int] = {}
        for index, item in enumerate(items):
            data = item.data.patient
            pk: int | None = by_id.get(data.id_number) if data.id_number else None
            for key in _numbers(data, item.facility):
                if pk is None:
                    pk = by_number.get((key[0], key[1], key[2].upper()))
            if pk is None and data.passport:
                pk = (
                    Patient.objects.filter(
                        passport_hash__in=Patient.index_hashes("passport", data.passport)
                    )
                    .values_list("pk", flat=True)
                    .first()
                )
            if pk is None:
                if data.unregistrable is not None:  # one by one, where it fails on its own
                    raise data.unregistrable
                item.new_key = _identity(data, item.facility)
                self.new.setdefault(item.new_key, (data, item.source))
                continue
            found[index] = pk
            for kind, system, value in _numbers(data, item.facility):
                if (kind, system, value.upper()) not in by_number:
                    self.missing_numbers.setdefault((kind, system, value[:64]), pk)
        paths = self.context.organisation_paths()
        profiles: dict[int, Profile] = {}
        for pk, sex, birth, org, doctor, merged in Patient.objects.filter(
            pk__in=set(found.values())
        ).values_list(
            "pk", "sex", "birth_date", "organisation_id", "responsible_doctor_id", "merged_into_id"
        ):
            if merged is not None:  # merged into another (ADT^A40): one by one finds it
                raise MergedRecord(pk)
            profiles[pk] = Profile(pk, sex, birth, org, doctor, paths.get(org, "/"))
        for index, item in enumerate(items):
            if index in found:
                item.profile = profiles[found[index]]
            else:
                data = item.data.patient
                assert data.sex and data.birth_date  # registrable (checked above)
                organisation = item.source.organisation_id
                item.profile = Profile(
                    None,
                    data.sex,
                    data.birth_date,
                    organisation,
                    None,
                    paths.get(organisation, "/"),
                )

    def _grade(self, items: list[Item]) -> None:
        from careloop.clinical.panels import with_pressures
        from careloop.interop.processing import _result_input

        catalogue = self.context.catalogue
        for item in items:
            profile = item.profile
            assert profile is not None
            mapping = self.context.mappings[item.source.pk]
            moment = item.data.sent_at or item.received_at
            ages: dict[datetime, tuple[int, int]] = {}  # by observation time: most share one
            for order in item.data.orders:
                graded = []
                given_all = [_result_input(r, order, mapping, moment) for r in order.results]
                for given in with_pressures(given_all):
                    age = ages.get(given.observed_at)
                    if age is None:
                        day = timezone.localtime(given.observed_at).date()
                        age = ages[given.observed_at] = (
                            profile.age_on(day),
                            (day - profile.birth_date).days,
                        )
                    graded.append(
                        assess(
                            given,
                            sex=profile.sex,
                            age=age[0],
                            organisation_path=profile.path,
                            catalogue=catalogue,
                            days_old=age[1],
                        )
                    )
                item.graded.append(graded)
        settle(
            (item.profile.pk or ("new", item.new_key), item.profile.pk, assessment)
            for item in items
            if item.profile is not None
            for graded in item.graded
            for assessment in graded
        )

    # ------------------------------------------------------------------ write

    def _prepare_writes(self, items: list[Item]) -> Writes:
        """Every row the batch will insert, converted (encrypted, hashed, adapted) now, so
        the transaction only runs statements. Ids not known yet (new patients, reports) are
        filled in at write time."""
        w = Writes()
        now = self.now
        for (kind, system, value), pk in self.missing_numbers.items():
            w.numbers.append(w.identifier.prepare(self._identifier_row(pk, kind, system, value)))
        cards = iter(new_card_numbers(len(self.new))) if self.new else iter(())
        for key, (data, source) in self.new.items():
            w.new_keys.append(key)
            w.patients.append(
                w.patient.prepare(
                    model_row(
                        Patient,
                        ENROL_FIELDS,
                        {
                            "card_number": next(cards),
                            "name": data.name[:50],
                            "sex": data.sex,
                            "birth_date": data.birth_date,
                            "id_number": data.id_number,
                            "passport": data.passport,
                            "phone": data.phone,
                            "address": data.address,
                            "organisation_id": source.organisation_id,
                            "created_at": now,
                        },
                        now=now,
                    )
                )
            )
            for kind, system, value in _numbers(data, source.facility):
                w.new_numbers.append(
                    (key, w.identifier.prepare(self._identifier_row(None, kind, system, value)))
                )
            w.new_audits.append(
                (
                    key,
                    w.audit.prepare(
                        model_row(
                            AuditEvent,
                            AUDIT_FIELDS,
                            {
                                "at": now,
                                "actor_label": f"hl7:{source.facility}"[:150],
                                "organisation_id": source.organisation_id,
                                "action": "create",
                                "object_type": "patient",
                                "object_id": "",
                                "patient_id": None,
                                "summary": "registered from an inbound message",
                                "via": "system",
                            },
                            now=now,
                        )
                    ),
                )
            )
        self._sent_again(items, w)
        for item in items:
            assert item.profile is not None
            moment = item.data.sent_at or item.received_at
            common = {
                "patient_id": item.profile.pk,
                "report_id": None,
                "encounter_id": None,
                "source": Source.HL7,
                "source_message_id": item.message_id,
                "created_at": now,
            }
            for order, graded in zip(item.data.orders, item.graded, strict=True):
                report = len(w.reports)
                w.reports.append(
                    (
                        item,
                        w.report.prepare(
                            (
                                item.profile.pk,
                                item.profile.organisation_id,
                                order.code[:50],
                                order.coding_system[:100],
                                (order.name or order.code)[:200],
                                REPORT_STATUS.get(order.status, "final"),
                                order.observed_at or moment,
                                item.data.sent_at,
                                "\n".join(order.notes),
                                (order.filler_number or order.placer_number)[:64],
                                Source.HL7,
                                item.message_id,
                                now,
                            )
                        ),
                    )
                )
                for assessment in graded:  # in the laboratory's order, critical or not
                    row = assessment.fields | common
                    if assessment.critical:
                        w.critical.append((len(w.observations), row, assessment))
                    w.observations.append(
                        (item, report, w.observation.prepare(observation_row(row)))
                    )
        return w

    def _sent_again(self, items: list[Item], w: Writes) -> None:
        """The known patients' orders, whose earlier results the new ones replace
        (``replaced``); SentAgainInBatch when two of the batch's messages report one item of
        one order (to be imported one by one, in order)."""
        seen: dict[tuple[Any, str, tuple[str, str, str]], list[tuple[int, datetime]]] = {}
        for item in items:
            assert item.profile is not None
            moment = item.data.sent_at or item.received_at
            who = (item.profile.pk or item.new_key, item.source.pk)
            for order, graded in zip(item.data.orders, item.graded, strict=True):
                number = (order.filler_number or order.placer_number)[:64]
                if not number:
                    continue
                reported = frozenset(
                    item_of(a.fields["local_system"], a.fields["local_code"], a.fields["code"])
                    for a in graded
                )
                at = order.observed_at or moment
                for one in reported:
                    earlier = seen.setdefault((who, number, one), [])
                    if any(m != item.message_id and same_order(t, at) for m, t in earlier):
                        raise SentAgainInBatch
                    earlier.append((item.message_id, at))
                if item.profile.pk is not None:
                    w.sent_again.append(
                        Sent(item.message_id, item.profile.pk, item.source.pk, number, at, reported)
                    )

    def _identifier_row(self, pk: int | None, kind: str, system: str, value: str) -> list[Any]:
        return model_row(
            PatientIdentifier,
            IDENTIFIER_FIELDS,
            {"patient_id": pk, "kind": kind, "system": system, "value": value[:64]},
            now=self.now,
        )

    def _write(self, items: list[Item], w: Writes) -> tuple[int, int]:
        """Inside the transaction: statements only, new ids filled in as they come back."""
        replace_earlier(w.sent_again)
        if w.numbers:
            w.identifier.execute(w.numbers)
        enrolled = dict(zip(w.new_keys, w.patient.returning_ids(w.patients), strict=True))
        if enrolled:
            patient_col = IDENTIFIER_FIELDS.index("patient_id")
            for key, row in w.new_numbers:
                row[patient_col] = enrolled[key]
            w.identifier.execute([row for _, row in w.new_numbers])
            patient_col, object_col = (
                AUDIT_FIELDS.index("patient_id"),
                AUDIT_FIELDS.index("object_id"),
            )
            for key, row in w.new_audits:
                row[patient_col], row[object_col] = enrolled[key], str(enrolled[key])
            w.audit.execute([row for _, row in w.new_audits])
            for item in items:
                if item.new_key:
                    assert item.profile is not None
                    item.profile.pk = enrolled[item.new_key]
        for item, row in w.reports:
            assert item.profile is not None
            row[0] = item.profile.pk
        report_ids = w.report.returning_ids([row for _, row in w.reports])
        patient_col, report_col = (
            OBSERVATION_FIELDS.index("patient_id"),
            OBSERVATION_FIELDS.index("report_id"),
        )
        for item, report, row in w.observations:
            assert item.profile is not None
            row[patient_col], row[report_col] = item.profile.pk, report_ids[report]
        rows = [row for _, _, row in w.observations]
        if not w.critical:
            w.observation.execute(rows)
        else:  # the critical ones' ids are needed for their alerts
            ids = w.observation.returning_ids(rows)
            for index, fields, assessment in w.critical:
                item, report, _ = w.observations[index]
                assert item.profile is not None
                fields |= {"patient_id": item.profile.pk, "report_id": report_ids[report]}
                observation = Observation(pk=ids[index], **fields)
                threshold = assessment.grade.threshold if assessment.grade else ""
                critical_value_alert(
                    item.profile, observation, threshold, item.source.name or item.facility
                )
        _mark_processed(
            [(item.message_id, item.profile.pk if item.profile else None) for item in items],
            self.now,
        )
        return len(w.observations), len(w.critical)


def _mark_processed(messages: list[tuple[int, int | None]], now: datetime) -> None:
    """The messages (id, patient id) imported: on PostgreSQL one statement for the batch
    (an UPDATE per message is planned and executed per row), on SQLite one prepared
    statement run per row (cheap in-process)."""
    table = connection.ops.quote_name(InboundMessage._meta.db_table)
    processed, at = InboundMessage.Status.PROCESSED, connection.ops.adapt_datetimefield_value(now)
    with bulk_cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS m SET status = %s, error = '', patient_id = v.patient, "  # noqa: S608
                "attempts = m.attempts + 1, processed_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, patient) WHERE m.id = v.id",
                [
                    processed,
                    at,
                    pg_array(pk for pk, _ in messages),
                    pg_array(patient for _, patient in messages),
                ],
            )
            return
        cursor.executemany(
            f"UPDATE {table} SET status = %s, error = '', patient_id = %s, "  # noqa: S608
            "attempts = attempts + 1, processed_at = %s WHERE id = %s",
            [(processed, patient, at, pk) for pk, patient in messages],
        )


def _identity(data: PatientData, facility: str) -> str:
    if data.id_number:
        return f"id:{data.id_number}"
    if data.passport:
        return f"passport:{data.passport}"
    numbers = _numbers(data, facility)
    if numbers:
        kind, system, value = numbers[0]
        return f"{kind}:{system}:{value.upper()}"
    return f"name:{data.name}:{data.birth_date}"
