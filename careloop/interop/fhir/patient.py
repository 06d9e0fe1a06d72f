"""FHIR Patient ↔ CareLoop patient. Enrolment goes through the same service (validation,
duplicates, card number, audit) as the form and the JSON API.

Identifiers and phone numbers leave masked, as everywhere; a masked value sent back in an
update (it contains "*") means "unchanged".
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from fhir.resources.R4B.patient import Patient as FhirPatient

from careloop.accounts.models import Organisation
from careloop.ids import row_id
from careloop.interop.fhir import codes
from careloop.interop.fhir.base import (
    Handler,
    Prepared,
    References,
    any_of,
    date_filter,
    either,
    fhir_datetime,
    indexed,
    token,
)
from careloop.interop.fhir.outcome import FhirError, issue
from careloop.patients import services
from careloop.patients.access import patients_for
from careloop.patients.models import Patient, PatientIdentifier
from careloop.patients.validation import PatientDataError

ISSUER_LIMIT = PatientIdentifier._meta.get_field("system").max_length or 64

# Where each CareLoop field lives in a FHIR Patient, for error messages.
FIELD_PATHS = {
    "name": "Patient.name",
    "sex": "Patient.gender",
    "birth_date": "Patient.birthDate",
    "id_number": f"Patient.identifier.where(system='{codes.RESIDENT_ID}').value",
    "passport": f"Patient.identifier.where(system='{codes.PASSPORT}').value",
    "mrn": f"Patient.identifier.where(system='{codes.MRN}').value",
    "exam_number": f"Patient.identifier.where(system='{codes.EXAM}').value",
    "phone": "Patient.telecom.where(system='phone').value",
    "address": "Patient.address",
    "organisation": "Patient.managingOrganization",
    "deceased_on": "Patient.deceasedDateTime",
}


NOT_THE_NAME = {"old", "anonymous", "temp", "maiden"}  # HumanName.use of a name not to keep


def data_error(error: PatientDataError) -> FhirError:
    issues = []
    for field, messages in error.errors.items():
        path = FIELD_PATHS.get(field.split("[")[0], "Patient")
        issues += [
            issue(f"{path}: {message}", code="value", expression=[path]) for message in messages
        ]
    return FhirError(422, "the Patient breaks CareLoop's rules", issues=issues)


class PatientHandler(Handler):
    resource_type = "Patient"
    fhir_class = FhirPatient
    search_params = ["_id", "identifier", "name", "birthdate", "gender", "phone"]

    def queryset(self, user: Any) -> QuerySet[Patient]:
        return patients_for(user).select_related("organisation").prefetch_related("identifiers")

    def to_fhir(self, patient: Patient) -> dict[str, Any]:
        identifiers = [
            {
                "system": codes.CARD,
                "value": patient.card_number,
                "type": {"coding": [{"system": codes.V2_0203, "code": "MB"}]},
            }
        ]
        if patient.id_number:
            identifiers.append(
                {
                    "system": codes.RESIDENT_ID,
                    "value": patient.masked_id_number,
                    "type": {"coding": [{"system": codes.V2_0203, "code": "NI"}]},
                }
            )
        if patient.passport:
            identifiers.append(
                {
                    "system": codes.PASSPORT,
                    "value": patient.masked_passport,
                    "type": {"coding": [{"system": codes.V2_0203, "code": "PPN"}]},
                }
            )
        for number in patient.identifiers.all():
            system = codes.EXAM if number.kind == PatientIdentifier.Kind.EXAM else codes.MRN
            identifiers.append({"system": f"{system}:{number.system}", "value": number.value})
        family, given = split_name(patient.name)
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": str(patient.pk),
            "meta": {"lastUpdated": patient.updated_at.isoformat()},
            "identifier": identifiers,
            "active": not patient.is_deceased,
            "name": [{"text": patient.name, "family": family, "given": given}],
            "gender": patient.sex,
            "birthDate": patient.birth_date.isoformat(),
            "managingOrganization": {
                "reference": f"Organization/{patient.organisation_id}",
                "display": patient.organisation.name,
            },
        }
        if not resource["name"][0]["given"]:
            del resource["name"][0]["given"]
        if patient.phone:
            resource["telecom"] = [
                {
                    "system": "phone",
                    "value": patient.masked_phone,
                    # a landline is the home's line (ContactPoint.use has no "landline")
                    "use": "mobile" if patient.phone_kind == "mobile" else "home",
                }
            ]
        if patient.address:
            resource["address"] = [{"text": patient.address}]
        if patient.deceased_on:
            resource["deceasedDateTime"] = patient.deceased_on.isoformat()
        return resource

    def search(self, user: Any, params: QueryDict) -> QuerySet[Patient]:
        queryset = self.queryset(user)
        # Each parameter repeated: all must hold; "a,b" within one: either.
        for value in params.getlist("identifier"):
            queryset = queryset.filter(any_of(_identifier_filter(*token(v)) for v in either(value)))
        for value in params.getlist("name"):
            # a string search: any case ("zhang" finds Zhang Wei; it found only "Zhang")
            queryset = queryset.filter(any_of(Q(name__icontains=v.strip()) for v in either(value)))
        for value in params.getlist("phone"):
            queryset = queryset.filter(
                any_of(
                    Q(phone_hash__in=Patient.index_hashes("phone", token(v)[1]))
                    for v in either(value)
                )
            )
        if values := params.getlist("birthdate"):
            queryset = queryset.filter(date_filter("birth_date", values))
        for value in params.getlist("gender"):  # "male" or "<system>|male"
            queryset = queryset.filter(sex__in=[token(v)[1] for v in either(value)])
        return queryset

    def prepare_many(self, user: Any, items: list[dict[str, Any]], refs: References) -> Prepared:
        enrolments = []
        for index, data in enumerate(items):
            try:
                enrolments.append(services.prepare_enrolment(user, from_fhir(data)))
            except PatientDataError as error:
                raise indexed(index, data_error(error)) from error
            except FhirError as error:
                raise indexed(index, error) from error
            except PermissionDenied as error:
                raise FhirError(403, "you may not enrol patients", code="forbidden") from error

        def write() -> list[Patient]:
            enrolled = []
            for index, enrolment in enumerate(enrolments):
                try:
                    enrolled.append(enrolment.save())
                except services.DuplicatePatientError as error:
                    # The record is named only when the token may open it.
                    said, existing = services.duplicate_explanation(user, error)
                    raise indexed(
                        index,
                        FhirError(
                            409,
                            f"{said} (Patient/{existing.pk})" if existing else said,
                            code="duplicate",
                            expression=[FIELD_PATHS.get(error.field, "Patient")],
                        ),
                    ) from error
            return enrolled

        return Prepared(write, [e.patient for e in enrolments])

    def create(self, user: Any, data: dict[str, Any], refs: References) -> Patient:
        patient: Patient = self.prepare_many(user, [data], refs).write()[0]
        return patient

    def update(
        self, user: Any, patient: Patient, data: dict[str, Any], refs: References
    ) -> Patient:
        fields = from_fhir(data)
        fields.pop("consents", None)
        try:
            return services.do_update_patient(user, patient, fields)
        except PatientDataError as error:
            raise data_error(error) from error
        except services.DuplicatePatientError as error:
            raise FhirError(409, error.message(), code="duplicate") from error


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def split_name(name: str) -> tuple[str, list[str]]:
    """A stored name as FHIR's family and given: 张秀英 → 张, [秀英]; John Smith → Smith,
    [John] (a name written with spaces is given names then the family name)."""
    name = name.strip()
    if " " in name and not _chinese(name):
        *given, family = name.split()
        return family, given
    if _chinese(name) and len(name) > 1:
        return name[:1], [name[1:]]
    return name, []


def join_name(family: str, given: list[str]) -> str:
    """FHIR's family and given as a stored name: Chinese family name first with no space
    (张 + 秀英), others given names first with spaces (John Smith), as HL7 PID-5 is read."""
    given = [g.strip() for g in given if g and g.strip()]
    family = (family or "").strip()
    if _chinese(family + "".join(given)):
        return family + "".join(given)
    return " ".join([*given, family]).strip()


def matching_identifiers(patients: QuerySet[Patient], query: str) -> QuerySet[Patient]:
    """The patients of ``patients`` a conditional reference's query names
    ("identifier=system|value", repeated: all of them): the reference
    "Patient?identifier=…" an integrator uses when it knows its own number for the patient,
    not ours. Other search parameters are refused."""
    params = QueryDict(query)
    others = sorted(set(params) - {"identifier"})
    if others or not params.getlist("identifier"):
        raise FhirError(
            422,
            "a conditional reference to a Patient may search by identifier only "
            f"(Patient?identifier=system|value), not {', '.join(others) or 'nothing'}",
            code="not-supported",
        )
    for value in params.getlist("identifier"):
        system, code = kept_identifier(value, "a conditional reference", 422)
        patients = patients.filter(_identifier_filter(system, code))
    return patients


def kept_identifier(value: str, what: str, status: int) -> tuple[str, str]:
    """ "system|value" of a system CareLoop keeps, for a search that decides whose record is
    written to (a conditional reference or create): the value alone, or a system we do not
    keep, could name someone else who happens to have that number."""
    system, code = token(value)
    named = system or ""
    issued = issued_system(named)
    if not code or (
        named not in (codes.CARD, codes.RESIDENT_ID, codes.PASSPORT) and not (issued and issued[1])
    ):
        raise FhirError(
            status,
            f"{what} needs a system CareLoop keeps and a value, not "
            f"{value!r}: {codes.RESIDENT_ID}, {codes.PASSPORT}, {codes.CARD}, "
            f"{codes.MRN}:<issuer> or {codes.EXAM}:<issuer>",
            code="value",
        )
    return named, code


def issued_system(system: str) -> tuple[str, str] | None:
    """The kind ("mrn" or "exam") and issuer of a record-number system:
    urn:careloop:sid:mrn:LIS9 → ("mrn", "LIS9"), urn:careloop:sid:exam → ("exam", "");
    None for any other system."""
    for prefix, kind in (
        (codes.MRN, PatientIdentifier.Kind.MRN),
        (codes.EXAM, PatientIdentifier.Kind.EXAM),
    ):
        if system == prefix:
            return str(kind), ""
        if system.startswith(f"{prefix}:"):
            return str(kind), system[len(prefix) + 1 :]
    return None


def _identifier_filter(system: str | None, value: str) -> Q:
    """A token search: "value" matches any identifier we keep, "system|value" only one of
    that system (an unknown system, or "|value" for no system, matches nothing)."""
    card = Q(card_number=value)
    resident = Q(id_number_hash__in=Patient.index_hashes("id_number", value))
    passport = Q(passport_hash__in=Patient.index_hashes("passport", value))
    numbers = PatientIdentifier.objects.filter(
        patient=OuterRef("pk"), value_hash__in=PatientIdentifier.index_hashes(value)
    )
    if system is None:
        return card | resident | passport | Q(Exists(numbers))
    if system == codes.CARD:
        return card
    if system == codes.RESIDENT_ID:
        return resident
    if system == codes.PASSPORT:
        return passport
    if issued := issued_system(system):
        kind, issuer = issued
        numbers = numbers.filter(kind=kind)
        if issuer:
            numbers = numbers.filter(system=issuer)
        return Q(Exists(numbers))
    return Q(pk__in=[])


def from_fhir(data: dict[str, Any]) -> dict[str, Any]:
    """The fields a FHIR Patient gives, in the form patients.validation takes."""
    out: dict[str, Any] = {}
    for index, item in enumerate(data.get("identifier", [])):
        system, value = item.get("system", ""), (item.get("value") or "").strip()
        if not value or "*" in value or system == codes.CARD:  # masked, or ours: unchanged
            continue
        field = codes.SYSTEM_FIELDS.get(system)
        issued = issued_system(system)
        if field is None and issued:
            field = "exam_number" if issued[0] == PatientIdentifier.Kind.EXAM else "mrn"
            if issued[1]:  # the issuer named: kept as the number's system, as HL7's PID-3.4
                if len(issued[1]) > ISSUER_LIMIT:
                    raise FhirError(
                        422,
                        f"Patient.identifier[{index}]: the issuer in {system} is longer than "
                        f"{ISSUER_LIMIT} characters",
                        code="value",
                        expression=[f"Patient.identifier[{index}].system"],
                    )
                out.setdefault("issued_numbers", []).append(
                    {"field": field, "system": issued[1], "value": value}
                )
                continue
        if field is None:
            type_codes = [c.get("code") for c in (item.get("type") or {}).get("coding", [])]
            field = next((codes.TYPE_FIELDS[c] for c in type_codes if c in codes.TYPE_FIELDS), None)
        if not field:  # refused, not dropped: the sender would believe it kept
            raise FhirError(
                422,
                f"Patient.identifier[{index}]: system {system or '(none)'} is not one CareLoop "
                f"keeps (resident ID {codes.RESIDENT_ID}, passport {codes.PASSPORT}, record "
                f"number {codes.MRN}:<issuer>, exam number {codes.EXAM}:<issuer>, or type "
                "NI, PPN or MR)",
                code="value",
                expression=[f"Patient.identifier[{index}]"],
            )
        out[field] = value
    names = [n for n in data.get("name") or [] if isinstance(n, dict)]
    if names:
        # Of several (a pinyin or nickname beside the one on the resident ID): the official
        # one, else the usual one, else the first that is not an old or anonymous name.
        name = next(
            (n for use in ("official", "usual") for n in names if n.get("use") == use),
            next((n for n in names if n.get("use") not in NOT_THE_NAME), names[0]),
        )
        out["name"] = name.get("text") or join_name(name.get("family", ""), name.get("given", []))
    if "gender" in data:
        gender = data["gender"]
        if gender not in ("male", "female"):
            raise FhirError(
                422,
                "Patient.gender must be male or female (CareLoop records "
                "the sex as on the resident ID)",
                code="code-invalid",
                expression=["Patient.gender"],
            )
        out["sex"] = gender
    if "birthDate" in data:
        from datetime import date

        try:
            out["birth_date"] = date.fromisoformat(data["birthDate"])
        except ValueError as exc:
            raise FhirError(
                422,
                "Patient.birthDate must be a full date (YYYY-MM-DD)",
                code="value",
                expression=["Patient.birthDate"],
            ) from exc
    if data.get("deceasedDateTime"):  # kept as the date of death (plans stop, no more calls)
        moment = fhir_datetime(data["deceasedDateTime"], "Patient.deceasedDateTime")
        out["deceased_on"] = timezone.localdate(moment) if moment else None
    elif data.get("deceasedBoolean") is True:
        raise FhirError(
            422,
            "Patient.deceasedBoolean: CareLoop records the date of death; send "
            "deceasedDateTime (a date alone will do)",
            code="required",
            expression=["Patient.deceasedBoolean"],
        )
    for telecom in data.get("telecom", []):
        value = telecom.get("value") or ""
        if telecom.get("system") == "phone" and value and "*" not in value:
            out["phone"] = value
            break
    addresses = data.get("address") or []
    if addresses:
        address = addresses[0]
        out["address"] = address.get("text") or "".join(
            [
                address.get("state", ""),
                address.get("city", ""),
                address.get("district", ""),
                *address.get("line", []),
            ]
        )
    organisation = (data.get("managingOrganization") or {}).get("reference", "")
    if organisation:
        pk = organisation.rsplit("/", 1)[-1]
        org_id = row_id(pk)
        found = Organisation.objects.filter(pk=org_id).first() if org_id is not None else None
        out["organisation"] = found.pk if found else -1
    if data.get("contact"):
        out["contacts"] = [_contact(c) for c in data["contact"]]
    return out


def _contact(contact: dict[str, Any]) -> dict[str, Any]:
    relations = [
        c.get("code") for r in contact.get("relationship", []) for c in r.get("coding", [])
    ]
    name = contact.get("name") or {}
    phone = next(
        (t.get("value") for t in contact.get("telecom", []) if t.get("system") == "phone"), ""
    )
    return {
        "name": name.get("text") or join_name(name.get("family", ""), name.get("given", [])),
        "relation": "other",
        "phone": phone or "",
        "is_guardian": "GUARD" in relations or "GRD" in relations,
        "is_emergency": "C" in relations or "EP" in relations,
    }
