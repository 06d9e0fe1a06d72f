"""Finding, or registering, the patient a message is about (by identifier, never by name)."""

from __future__ import annotations

from typing import Any

from careloop.audit.services import record
from careloop.interop.hl7.read import PatientData
from careloop.patients.identity import normalise_plain
from careloop.patients.models import Patient, PatientIdentifier
from careloop.patients.services import audit_snapshot, new_card_number


def _system(authority: str, facility: str) -> str:
    return (authority or facility)[:64]


def match_patient(data: PatientData, facility: str) -> Patient | None:
    """The enrolled patient with one of these identifiers: resident ID first, then record
    and exam numbers (per issuing system), then passport. A record merged into another
    (ADT^A40) stands for that other one."""
    found = _match(data, facility)
    for _hop in range(5):  # a merged record's survivor merged in turn
        if found is None or found.merged_into_id is None:
            break
        found = Patient.objects.select_related("organisation").get(pk=found.merged_into_id)
    return found


def _match(data: PatientData, facility: str) -> Patient | None:
    queryset = Patient.objects.select_related("organisation")
    if data.id_number:
        found = queryset.filter(
            id_number_hash__in=Patient.index_hashes("id_number", data.id_number)
        ).first()
        if found:
            return found
    numbered = [(PatientIdentifier.Kind.MRN, item) for item in data.record_numbers] + [
        (PatientIdentifier.Kind.EXAM, item) for item in data.exam_numbers
    ]
    for kind, item in numbered:
        hit = (
            PatientIdentifier.objects.filter(
                kind=kind,
                system=_system(item.authority, facility),
                value_hash__in=PatientIdentifier.index_hashes(item.value),
            )
            .select_related("patient__organisation")
            .first()
        )
        if hit:
            return hit.patient
    if data.passport:
        return queryset.filter(
            passport_hash__in=Patient.index_hashes("passport", data.passport)
        ).first()
    return None


def _numbered(data: PatientData) -> list[tuple[PatientIdentifier.Kind, Any]]:
    return [(PatientIdentifier.Kind.MRN, item) for item in data.record_numbers] + [
        (PatientIdentifier.Kind.EXAM, item) for item in data.exam_numbers
    ]


def add_identifiers(patient: Patient, data: PatientData, facility: str) -> None:
    """Record numbers seen for the first time are added to the patient."""
    for kind, item in _numbered(data):
        system = _system(item.authority, facility)
        exists = PatientIdentifier.objects.filter(
            kind=kind, system=system, value_hash__in=PatientIdentifier.index_hashes(item.value)
        ).exists()
        if not exists:
            PatientIdentifier.objects.create(
                patient=patient, kind=kind, system=system, value=item.value[:64]
            )
    changed = []
    if data.id_number and not patient.id_number:
        patient.id_number = data.id_number
        changed += ["id_number", "id_number_hash"]
    if data.passport and not patient.passport:
        patient.passport = data.passport
        changed += ["passport", "passport_hash"]
    if changed:
        patient.save(update_fields=[*changed, "updated_at"])


def register_patient(data: PatientData, organisation: Any, facility: str) -> Patient:
    """A patient first seen in a message: enrolled in the sending system's organisation."""
    if data.unregistrable is not None:  # known when acknowledged, not now (merged, erased)
        raise data.unregistrable
    assert data.sex and data.birth_date  # guaranteed by hl7.read when registrable
    patient = Patient(
        card_number=new_card_number(),
        name=data.name[:50],
        sex=data.sex,
        birth_date=data.birth_date,
        id_number=data.id_number,
        passport=data.passport,
        phone=data.phone,
        address=data.address,
        organisation=organisation,
    )
    patient.save()
    # Created without looking first: none of them was on record when the patient was looked
    # for, so one found now is another processor's, registering the same person at the same
    # moment (by another identifier: another shard). The unique index then refuses this
    # registration, once the other has committed, and the message is imported again
    # (processing._one_by_one), finding that patient; looking first would have missed the
    # other's row until its commit, or, after it, skipped the number and enrolled the
    # person a second time with no identifier.
    created = set()
    for kind, item in _numbered(data):
        system, value = _system(item.authority, facility), item.value[:64]
        if (kind, system, normalise_plain(value)) not in created:  # a number sent twice
            created.add((kind, system, normalise_plain(value)))
            PatientIdentifier.objects.create(patient=patient, kind=kind, system=system, value=value)
    record(
        None,
        "create",
        "patient",
        patient.pk,
        patient_id=patient.pk,
        actor_label=f"hl7:{facility}"[:150],
        summary="registered from an inbound message",
        changes={k: [None, v] for k, v in audit_snapshot(patient).items() if v},
    )
    return patient


def update_demographics(patient: Patient, data: PatientData, facility: str) -> None:
    """ADT^A08 (and admissions): take the sender's current phone, address and name."""
    before = audit_snapshot(patient)
    changed = []
    for attribute in ("name", "phone", "address"):
        value = getattr(data, attribute)
        if value and value != getattr(patient, attribute):
            setattr(patient, attribute, value)
            changed.append(attribute)
    if changed:
        patient.save()
        after = audit_snapshot(patient)
        record(
            None,
            "update",
            "patient",
            patient.pk,
            patient_id=patient.pk,
            actor_label=f"hl7:{facility}"[:150],
            summary="updated from an inbound message",
            changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
        )
