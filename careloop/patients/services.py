"""Enrolment (开卡), changes, consent, reveal and search of patients.

Every function that changes or discloses personal data writes its own audit record.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.accounts.models import Organisation
from careloop.audit.services import changes_between, record
from careloop.patients import identity
from careloop.patients.access import can_change, is_owner, patients_for
from careloop.patients.models import (
    ConsentRecord,
    Lifestyle,
    Patient,
    PatientContact,
    PatientIdentifier,
    PatientShare,
)
from careloop.patients.validation import PatientDataError, clean_patient_data

RECORD_NUMBER_FIELDS = {
    "mrn": PatientIdentifier.Kind.MRN,
    "exam_number": PatientIdentifier.Kind.EXAM,
}
PATIENT_FIELDS = [
    "name",
    "sex",
    "birth_date",
    "id_number",
    "phone",
    "passport",
    "address",
    "organisation",
    "care_team",
    "responsible_doctor",
    "health_manager",
    "preferred_channel",
    "quiet_hours_start",
    "quiet_hours_end",
    "digital_literacy",
    "lives_alone",
    "deceased_on",
    "risk_tier",
]
REVEAL_PERMISSIONS = {
    "phone": "patients.reveal_phone",
    "address": "patients.reveal_phone",  # contact details, as the phone
    "id_number": "patients.reveal_identifier",
    "passport": "patients.reveal_identifier",
    "record_numbers": "patients.reveal_identifier",  # MRNs and exam numbers, together
}


class DuplicatePatientError(Exception):
    """The identifiers given belong to a patient already enrolled (一人一档)."""

    def __init__(self, field: str, existing: Patient) -> None:
        super().__init__(f"duplicate patient on {field}")
        self.field = field
        self.existing = existing

    def message(self) -> str:
        return {
            "id_number": _("A patient with this ID number is already enrolled."),
            "passport": _("A patient with this passport number is already enrolled."),
            "phone": _("A patient with this name and mobile number is already enrolled."),
            "mrn": _("A patient with this medical record number is already enrolled."),
            "exam_number": _("A patient with this exam number is already enrolled."),
        }[self.field]


def duplicate_explanation(actor: Any, error: DuplicatePatientError) -> tuple[str, Patient | None]:
    """What to tell the user, and the existing record when they may open it (otherwise the
    record's existence is all they learn)."""
    if patients_for(actor).filter(pk=error.existing.pk).exists():
        return error.message(), error.existing
    return (
        error.message()
        + " "
        + _("The record belongs to another organisation; ask it to share the record."),
        None,
    )


# ---------------------------------------------------------------- card numbers and lookups


def luhn_check_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return str((10 - total % 10) % 10)


def _draw_card() -> str:
    body = "8" + "".join(secrets.choice("0123456789") for _ in range(10))
    return body + luhn_check_digit(body)


def new_card_numbers(count: int) -> list[str]:
    """``count`` random 12-digit member card numbers with a Luhn check digit (开卡), distinct
    and not yet used (checked with one query)."""
    if count <= 0:
        return []
    numbers: set[str] = set()
    while len(numbers) < count:
        numbers.add(_draw_card())
    # Written by hand: each enrolment asks, and Django took ~10× the query's time to build it.
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('card_number')} FROM {quote(Patient._meta.db_table)} "  # noqa: S608
            f"WHERE {quote('card_number')} IN ({', '.join(['%s'] * len(numbers))})",
            list(numbers),
        )
        taken = {row[0] for row in cursor.fetchall()}
    fresh = numbers - taken
    return list(fresh) + (new_card_numbers(count - len(fresh)) if taken else [])


def new_card_number() -> str:
    return new_card_numbers(1)[0]


def record_numbers(patient: Patient) -> dict[str, str]:
    """The patient's MRN and exam number issued by their own organisation (the first of
    each kind, the one a number typed in the form replaces)."""
    found = {"mrn": "", "exam_number": ""}
    for item in patient.identifiers.filter(system=patient.organisation.code).order_by("-pk"):
        field = "mrn" if item.kind == PatientIdentifier.Kind.MRN else "exam_number"
        found[field] = item.value
    return found


def given_record_numbers(
    cleaned: Mapping[str, Any], organisation: Any
) -> list[tuple[str, str, str, str]]:
    """The record numbers ``cleaned`` gives, as (field, kind, issuer, number): "mrn" and
    "exam_number" issued by ``organisation`` (the patient's), "issued_numbers" by the
    organisation named with each (FHIR's urn:careloop:sid:mrn:<issuer>). A number given
    empty ("mrn": "") is kept: an update removes the ones of that kind and issuer."""
    given = [
        (field, str(kind), organisation.code, cleaned[field] or "")
        for field, kind in RECORD_NUMBER_FIELDS.items()
        if field in cleaned
    ]
    return given + _issued_numbers(cleaned)


def _issued_numbers(cleaned: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The numbers FHIR gave under their issuer, as (field, kind, issuer, number)."""
    return [
        (item["field"], str(RECORD_NUMBER_FIELDS[item["field"]]), item["system"], item["value"])
        for item in cleaned.get("issued_numbers") or []
    ]


def _identity_hits(
    wanted: dict[str, set[str]], name: str, exclude_pk: int | None
) -> list[tuple[Any, ...]]:
    """Patients whose resident ID or passport hash, or phone hash with the same name, is
    one of ``wanted``: (id, the three hashes, name), newest first. Written by hand: every
    enrolment asks, and Django took several times the query's own time to build it."""
    quote = connection.ops.quote_name
    conditions: list[str] = []
    params: list[Any] = []
    for field, hashes in wanted.items():
        condition = f"{quote(field + '_hash')} IN ({', '.join(['%s'] * len(hashes))})"
        params += sorted(hashes)
        if field == "phone":
            condition = f"({condition} AND {quote('name')} = %s)"
            params.append(name)
        conditions.append(condition)
    others = ""
    if exclude_pk:
        others = f" AND {quote('id')} <> %s"
        params.append(exclude_pk)
    columns = ("id", "id_number_hash", "passport_hash", "phone_hash", "name")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} "  # noqa: S608
            f"FROM {quote(Patient._meta.db_table)} WHERE ({' OR '.join(conditions)}){others} "
            f"ORDER BY {quote('created_at')} DESC, {quote('id')} DESC LIMIT 100",
            params,
        )
        return [tuple(row) for row in cursor.fetchall()]


def find_duplicate(
    cleaned: Mapping[str, Any], *, organisation: Any, name: str, exclude_pk: int | None = None
) -> DuplicatePatientError | None:
    """The first enrolled patient sharing an identifier with ``cleaned``, as an error."""
    # One query for the identifiers on the patient row; which one matched is told in the
    # order they are checked: resident ID, passport, then phone with the same name.
    wanted: dict[str, set[str]] = {}
    for field in ("id_number", "passport", "phone"):
        if cleaned.get(field) and (field != "phone" or name):
            wanted[field] = set(Patient.index_hashes(field, cleaned[field]))
    if wanted:
        hits = _identity_hits(wanted, name, exclude_pk)
        for field, column in (("id_number", 1), ("passport", 2), ("phone", 3)):
            for hit in hits:
                if hit[column] in wanted.get(field, ()) and (field != "phone" or hit[4] == name):
                    return DuplicatePatientError(field, Patient.objects.get(pk=hit[0]))
    for field, kind, system, value in given_record_numbers(cleaned, organisation):
        if value:
            match = PatientIdentifier.objects.filter(
                kind=kind,
                system=system,
                value_hash__in=PatientIdentifier.index_hashes(value),
            )
            if exclude_pk is not None:
                match = match.exclude(patient_id=exclude_pk)
            if (item := match.select_related("patient").first()) is not None:
                return DuplicatePatientError(field, item.patient)
    return None


def audit_snapshot(patient: Patient, numbers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the audit log keeps of a patient: identifiers masked, references as ids."""
    numbers = numbers if numbers is not None else record_numbers(patient)
    return {
        "name": patient.name,
        "sex": patient.sex,
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        "id_number": identity.mask_id_number(patient.id_number),
        "phone": identity.mask_phone(patient.phone),
        "passport": identity.mask_passport(patient.passport),
        "address": "***" if patient.address else "",
        "mrn": identity.mask_passport(numbers.get("mrn")),
        "exam_number": identity.mask_passport(numbers.get("exam_number")),
        "organisation": patient.organisation_id,
        "care_team": patient.care_team_id,
        "responsible_doctor": patient.responsible_doctor_id,
        "health_manager": patient.health_manager_id,
        "preferred_channel": patient.preferred_channel,
        "quiet_hours": f"{patient.quiet_hours_start:%H:%M}-{patient.quiet_hours_end:%H:%M}",
        "digital_literacy": patient.digital_literacy,
        "lives_alone": patient.lives_alone,
        "deceased_on": patient.deceased_on.isoformat() if patient.deceased_on else None,
        "risk_tier": patient.risk_tier,
    }


# ---------------------------------------------------------------- enrol and change


def _lock_identities(cleaned: Mapping[str, Any], name: str, organisation: Any) -> None:
    """Serialise the transactions that claim the same identifiers, so the duplicate check
    made inside them is reliable. PostgreSQL: transaction-level advisory locks keyed by a
    hash of each identifier. SQLite needs none: it runs one writing transaction at a time
    (BEGIN IMMEDIATE)."""
    if connection.vendor != "postgresql":
        return
    keys = [
        f"{field}:{cleaned[field]}" for field in ("id_number", "passport") if cleaned.get(field)
    ]
    if cleaned.get("phone") and name:
        keys.append(f"phone:{cleaned['phone']}:{name}")
    keys += [
        f"{field}:{system}:{value.upper()}"
        for field, _kind, system, value in given_record_numbers(cleaned, organisation)
        if value
    ]
    lock_ids = sorted(
        {int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "big", signed=True) for k in keys}
    )
    with connection.cursor() as cursor:
        for lock_id in lock_ids:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


class Enrolment:
    """A patient about to be enrolled: validated, card number drawn, nothing written yet.

    ``prepare_enrolment`` does the work that needs no lock (validation, permission, a fresh
    card number), so a caller holding the database's write lock — a FHIR transaction Bundle
    — only spends ``save`` in it."""

    def __init__(self, actor: Any, cleaned: dict[str, Any], card_number: str) -> None:
        self.actor = actor
        self.cleaned = cleaned
        self.patient = Patient(
            created_by=actor if actor.is_authenticated else None, card_number=card_number
        )
        for field in PATIENT_FIELDS:
            if field in cleaned:
                setattr(self.patient, field, cleaned[field])

    def save(self) -> Patient:
        """Refuse duplicates (checked under the identity locks) and write the patient, their
        record numbers, contacts, consents and the audit record."""
        cleaned, actor, patient = self.cleaned, self.actor, self.patient
        try:
            with transaction.atomic():
                _lock_identities(cleaned, cleaned["name"], cleaned["organisation"])
                duplicate = find_duplicate(
                    cleaned, organisation=cleaned["organisation"], name=cleaned["name"]
                )
                if duplicate:
                    raise duplicate
                patient.save()
                given = _distinct(given_record_numbers(cleaned, patient.organisation))
                PatientIdentifier.objects.bulk_create(
                    PatientIdentifier(patient=patient, kind=kind, system=system, value=value)
                    for _field, kind, system, value in given
                )
                numbers = _audit_numbers(given, patient.organisation)
                PatientContact.objects.bulk_create(
                    PatientContact(patient=patient, **c) for c in cleaned.get("contacts", [])
                )
                for consent in cleaned.get("consents", []):
                    ConsentRecord.objects.create(patient=patient, recorded_by=actor, **consent)
                record(
                    actor,
                    "create",
                    "patient",
                    patient.pk,
                    patient_id=patient.pk,
                    summary="enrolled patient, issued member card",
                    changes=changes_between({}, audit_snapshot(patient, numbers)),
                )
                _record_rules(patient)
        except IntegrityError:
            # A unique identifier taken at the same moment (a race the locks do not cover).
            patient.pk = None
            duplicate = find_duplicate(
                cleaned, organisation=cleaned["organisation"], name=cleaned["name"]
            )
            if duplicate:
                raise duplicate from None
            raise
        return patient


def prepare_enrolment(actor: Any, data: Mapping[str, Any]) -> Enrolment:
    """Check the permission and the data, draw a member card number; writes nothing."""
    if not actor.has_perm("patients.add_patient"):
        raise PermissionDenied("no permission to enrol patients")
    return Enrolment(actor, clean_patient_data(data, actor=actor), new_card_number())


def _record_rules(patient: Patient) -> None:
    """The rules run when a record changes (lives alone, digital literacy: F5's tags)."""
    from careloop.rules.engine import run_for_record

    run_for_record([patient.pk])


def do_enrol_patient(actor: Any, data: Mapping[str, Any]) -> Patient:
    """Validate, refuse duplicates, create the patient with a new member card number."""
    return prepare_enrolment(actor, data).save()


def do_update_patient(actor: Any, patient: Patient, data: Mapping[str, Any]) -> Patient:
    """Apply the fields given (a partial update); contacts, when given, replace the old ones.

    The row is locked and re-read, and only the fields given are written, so two people
    changing different fields at once do not undo each other."""
    if not can_change(actor, patient):
        raise PermissionDenied("no permission to change this patient")
    try:
        with transaction.atomic():
            locked = (
                Patient.objects.select_for_update()
                .select_related("organisation")
                .get(pk=patient.pk)
            )
            cleaned = clean_patient_data(data, actor=actor, existing=locked)
            name = cleaned.get("name", locked.name)
            organisation = cleaned.get("organisation", locked.organisation)
            probe = dict(cleaned)
            if "name" in cleaned and "phone" not in cleaned:
                probe["phone"] = locked.phone  # a new name may now clash on name + phone
            _lock_identities(probe, name, organisation)
            duplicate = find_duplicate(
                probe, organisation=organisation, name=name, exclude_pk=locked.pk
            )
            if duplicate:
                raise duplicate
            before = audit_snapshot(locked)
            tier_before, before_organisation = locked.risk_tier, locked.organisation_id
            changed = [field for field in PATIENT_FIELDS if field in cleaned]
            for field in changed:
                setattr(locked, field, cleaned[field])
            hashes = [
                f"{field}_hash" for field in ("id_number", "passport", "phone") if field in changed
            ] + (["phone_kind"] if "phone" in changed else [])
            locked.save(update_fields=[*changed, *hashes, "updated_at"])
            _save_record_numbers(locked, cleaned)
            if "contacts" in cleaned:
                _replace_contacts(locked, cleaned["contacts"])
            changes = changes_between(before, audit_snapshot(locked))
            if "contacts" in cleaned:
                changes["contacts"] = ["…", f"{len(cleaned['contacts'])}"]
            record(
                actor,
                "update",
                "patient",
                locked.pk,
                patient_id=locked.pk,
                summary="changed patient details",
                changes=changes,
            )
            _record_rules(locked)
            if locked.organisation_id != before_organisation:  # their open work goes along
                from careloop.followup.planning import follow_the_move

                follow_the_move(locked, actor)
            if locked.risk_tier != tier_before:  # the risk × value follow-ups planned anew
                from careloop.followup.planning import replan_tiers

                replan_tiers([locked.pk])
    except IntegrityError:
        duplicate = find_duplicate(
            dict(data),
            organisation=patient.organisation,
            name=str(data.get("name", patient.name)),
            exclude_pk=patient.pk,
        )
        if duplicate:
            raise duplicate from None
        raise
    return locked


def _distinct(given: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """The numbers given that are not empty, each (kind, issuer, number) once."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for field, kind, system, value in given:
        key = (kind, system, identity.normalise_plain(value))
        if value and key not in seen:
            seen.add(key)
            out.append((field, kind, system, value))
    return out


def _audit_numbers(given: list[tuple[str, str, str, str]], organisation: Any) -> dict[str, str]:
    """The MRN and exam number the audit record shows: the organisation's own, else the
    first one given by another issuer."""
    numbers = {field: "" for field in RECORD_NUMBER_FIELDS}
    for field, _kind, _system, value in sorted(given, key=lambda g: g[2] != organisation.code):
        numbers[field] = numbers[field] or value
    return numbers


def _save_record_numbers(patient: Patient, cleaned: Mapping[str, Any]) -> None:
    """A number given in "mrn" or "exam_number" (the form's and the JSON API's one field of
    each) is the patient's of that kind from their organisation: kept when they have it
    already, else it takes the place of the first one ("" removes them); the patient's
    others of that kind (an inpatient number beside an outpatient one) are left alone.
    The numbers FHIR gives under an issuer replace the patient's of that kind and issuer;
    other issuers' are left alone."""
    own = patient.organisation.code
    for field, own_kind in RECORD_NUMBER_FIELDS.items():
        if field in cleaned:
            _set_own_number(patient, str(own_kind), own, cleaned[field] or "")
    given = _issued_numbers(cleaned)
    for kind, system in dict.fromkeys((kind, system) for _f, kind, system, _v in given):
        wanted = {
            identity.normalise_plain(value): value
            for _f, k, s, value in given
            if value and (k, s) == (kind, system)
        }
        current = list(patient.identifiers.filter(kind=kind, system=system).order_by("pk"))
        spare = [item for item in current if identity.normalise_plain(item.value) not in wanted]
        kept = {identity.normalise_plain(item.value) for item in current} & set(wanted)
        for key, value in wanted.items():
            if key in kept:
                continue
            item = (
                spare.pop(0)
                if spare
                else PatientIdentifier(patient=patient, kind=kind, system=system)
            )
            item.value = value
            item.save()
        for item in spare:
            item.delete()


def _set_own_number(patient: Patient, kind: str, system: str, value: str) -> None:
    current = list(patient.identifiers.filter(kind=kind, system=system).order_by("pk"))
    if not value:
        for item in current:
            item.delete()
        return
    key = identity.normalise_plain(value)
    if any(identity.normalise_plain(item.value) == key for item in current):
        return
    item = current[0] if current else PatientIdentifier(patient=patient, kind=kind, system=system)
    item.value = value
    item.save()


def _replace_contacts(patient: Patient, contacts: list[dict[str, Any]]) -> None:
    patient.contacts.all().delete()
    PatientContact.objects.bulk_create(PatientContact(patient=patient, **c) for c in contacts)


def do_save_lifestyle(actor: Any, patient: Patient, form: Any) -> Lifestyle:
    """Save the lifestyle form (smoking, drinking, exercise, salt, diet) of ``patient``."""
    if not can_change(actor, patient):
        raise PermissionDenied("no permission to change this patient")
    fields = list(form.Meta.fields)
    old = Lifestyle.objects.filter(patient=patient).first()
    before = {f: str(getattr(old, f)) for f in fields} if old else {}
    with transaction.atomic():
        item = form.save(commit=False)
        item.patient = patient
        item.updated_by = actor
        item.save()
        record(
            actor,
            "update",
            "lifestyle",
            item.pk,
            patient_id=patient.pk,
            summary="lifestyle changed",
            changes=changes_between(before, {f: str(getattr(item, f)) for f in fields}),
        )
        from careloop.rules.assessments import reassess_records  # smoking, exercise, diet

        reassess_records([patient.pk])
    return item


# ---------------------------------------------------------------- consent


def current_consents(patient: Patient) -> dict[tuple[str, str], ConsentRecord]:
    """The latest record per (purpose, channel): the patient's current answers."""
    latest: dict[tuple[str, str], ConsentRecord] = {}
    for item in patient.consents.order_by("recorded_at", "id").select_related("recorded_by"):
        latest[(item.purpose, item.channel)] = item
    return latest


def has_consent(patient: Patient, purpose: str, channel: str) -> bool:
    item = (
        patient.consents.filter(purpose=purpose, channel=channel)
        .order_by("-recorded_at", "-id")
        .first()
    )
    return bool(item and item.granted)


def do_record_consent(
    actor: Any,
    patient: Patient,
    *,
    purpose: str,
    channel: str,
    granted: bool,
    method: str = ConsentRecord.Method.WRITTEN,
    note: str = "",
) -> ConsentRecord:
    if not actor.has_perm("patients.add_consentrecord"):
        raise PermissionDenied("no permission to record consent")
    item = ConsentRecord(
        patient=patient,
        purpose=purpose,
        channel=channel,
        granted=granted,
        method=method,
        note=note[:200],
        recorded_by=actor if actor.is_authenticated else None,
    )
    item.full_clean(exclude=["patient", "recorded_by"])
    with transaction.atomic():
        item.save()
        record(
            actor,
            "create",
            "consent",
            item.pk,
            patient_id=patient.pk,
            summary=f"consent {purpose}/{channel} {'given' if granted else 'withdrawn'}",
        )
    return item


# ---------------------------------------------------------------- sharing


def can_share(actor: Any, patient: Patient) -> bool:
    """Sharing belongs to the patient's own organisation, not to those it is shared with."""
    return actor.has_perm("patients.share_patient") and is_owner(actor, patient)


def check_can_share(actor: Any, patient: Patient) -> None:
    if not can_share(actor, patient):
        raise PermissionDenied("no permission to manage sharing of this patient")


def share_targets(patient: Patient) -> QuerySet[Organisation]:
    """Organisations a patient can be shared with: active, outside its own subtree."""
    return Organisation.objects.filter(is_active=True).exclude(
        path__startswith=patient.organisation.path
    )


def do_share_patient(
    actor: Any, patient: Patient, organisation: Organisation, *, can_edit: bool, reason: str
) -> PatientShare:
    """Let another organisation's staff see (and, with can_edit, change) the record."""
    check_can_share(actor, patient)
    if not share_targets(patient).filter(pk=organisation.pk).exists():
        raise PatientDataError(
            {"organisation": [_("Choose an organisation outside the patient's own.")]}
        )
    with transaction.atomic():
        share, created = PatientShare.objects.update_or_create(
            patient=patient,
            organisation=organisation,
            defaults={
                "can_edit": can_edit,
                "reason": reason[:200],
                "shared_by": actor,
                "shared_at": timezone.now(),
            },
        )
        record(
            actor,
            "create" if created else "update",
            "share",
            share.pk,
            patient_id=patient.pk,
            summary=f"shared with {organisation.code} ({'edit' if can_edit else 'read'})",
        )
    return share


def do_unshare_patient(actor: Any, patient: Patient, share: PatientShare) -> None:
    check_can_share(actor, patient)
    with transaction.atomic():
        record(
            actor,
            "delete",
            "share",
            share.pk,
            patient_id=patient.pk,
            summary=f"stopped sharing with {share.organisation.code}",
        )
        share.delete()


# ---------------------------------------------------------------- reveal and search


def can_reveal(actor: Any, field: str) -> bool:
    return field in REVEAL_PERMISSIONS and actor.has_perm(REVEAL_PERMISSIONS[field])


def do_reveal(actor: Any, patient: Patient, field: str) -> str:
    """The full value of a masked identifier, for a role allowed to see it; audited."""
    if not can_reveal(actor, field):
        raise PermissionDenied("no permission to reveal this field")
    if field == "record_numbers":
        value = "；".join(
            f"{item.get_kind_display()} ({item.system}): {item.value}"
            for item in patient.identifiers.all()
        )
    else:
        value = str(getattr(patient, field))
    record(
        actor, "reveal", "patient", patient.pk, patient_id=patient.pk, summary=f"revealed {field}"
    )
    return value


def search_patients(queryset: QuerySet[Patient], query: str) -> QuerySet[Patient]:
    """Name (contains), or exact card number, ID, phone, passport, MRN or exam number. A
    record merged into another (HL7 ADT^A40) is not listed: its survivor is."""
    queryset = queryset.filter(merged_into__isnull=True)
    # A NUL character matches no name, and PostgreSQL refuses it in a query parameter.
    query = query.replace("\x00", "").strip()
    if not query:
        return queryset
    condition = Q(name__contains=query)
    compact = query.replace(" ", "")
    if compact.isdigit():
        condition |= Q(card_number=compact)
    if len(compact) >= 5:
        condition |= Q(id_number_hash__in=Patient.index_hashes("id_number", compact))
        condition |= Q(phone_hash__in=Patient.index_hashes("phone", compact))
        condition |= Q(passport_hash__in=Patient.index_hashes("passport", compact))
    if len(compact) >= 3:
        numbers = PatientIdentifier.objects.filter(
            patient=OuterRef("pk"), value_hash__in=PatientIdentifier.index_hashes(compact)
        )
        condition |= Q(Exists(numbers))
    return queryset.filter(condition)


def describe_search(query: str) -> str:
    """What kind of term was searched for, for the audit log (never the term itself)."""
    compact = query.replace(" ", "")
    if not compact:
        return "list"
    if compact.isdigit() and len(compact) == 11:
        return "search by phone-like number"
    if len(compact) == 18:
        return "search by ID-like number"
    if compact.isdigit():
        return "search by number"
    return "search by name or text"
