"""Validation of patient data, shared by the enrolment form, the API and imports.

``clean_patient_data`` takes the fields a caller provided (typed: str, date, time, bool, ids
or model instances) and returns them normalised, or raises PatientDataError with every
problem keyed by field name (``id_number``, ``phone``, ``contacts[0].phone`` …).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.accounts.models import Organisation, Team, User
from careloop.patients import identity
from careloop.patients.access import is_owner, organisations_for
from careloop.patients.models import (
    Channel,
    ConsentRecord,
    DigitalLiteracy,
    Patient,
    Sex,
    Tier,
)
from careloop.patients.models import PatientContact as Contact


class PatientDataError(Exception):
    """Invalid patient data: ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid patient data: " + ", ".join(sorted(errors)))
        self.errors = errors


def identifier_message(exc: identity.IdentifierError) -> str:
    messages = {
        "id_length": _("An ID number has 18 characters (15 digits on a first-generation ID card)."),
        "id15_format": _("A 15-digit first-generation ID number contains digits only."),
        "id15_birth_date": _(
            "The date of birth in this 15-digit first-generation ID number (YYMMDD after the "
            "region code) is not a valid date."
        ),
        "id_format": _("An ID number is 17 digits followed by a digit or X."),
        "id_region": _("The region code of this ID number is not valid."),
        "id_birth_date": _("The date of birth in this ID number is not a valid date."),
        "id_check_digit": _("The check digit of this ID number is wrong; please check it."),
        "phone_digits": _("A mobile number contains digits only."),
        "phone_format": _("Enter an 11-digit mainland mobile number starting with 13–19."),
        "phone_or_landline": _(
            "Enter an 11-digit mobile number (starting with 13–19) or a landline with its "
            "area code, such as 010-62345678."
        ),
        "landline_area_code": _(
            "Add the area code to this landline number, such as 010-62345678 (0755-… in Shenzhen)."
        ),
        "landline_format": _(
            "A landline number is its area code and 7 or 8 digits, such as 010-62345678 "
            "(an extension after 转)."
        ),
        "passport_format": _("A passport number has 5–17 letters or digits."),
    }
    return messages.get(exc.code, str(exc))


STRING_LIMITS = {"name": 50, "address": 200, "mrn": 40, "exam_number": 40}


class _Errors(dict[str, list[str]]):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _resolve(model: type[Any], value: Any) -> Any:
    if value is None or value == "" or isinstance(value, model):
        return value or None
    try:
        return model.objects.get(pk=int(value))
    except (model.DoesNotExist, TypeError, ValueError):
        return False  # marks "given but unknown"


def clean_patient_data(
    data: Mapping[str, Any], *, actor: Any, existing: Patient | None = None
) -> dict[str, Any]:
    errors = _Errors()
    out: dict[str, Any] = {}
    creating = existing is None
    today = timezone.localdate()

    for field, limit in STRING_LIMITS.items():
        if field in data:
            value = _text(data[field])
            if len(value) > limit:
                errors.add(field, _("At most %(limit)d characters.") % {"limit": limit})
            out[field] = value
    if "issued_numbers" in data:
        out["issued_numbers"] = _clean_issued_numbers(data["issued_numbers"] or [], errors)
    if (creating or "name" in data) and not out.get("name"):
        errors.add("name", _("Enter the patient's name."))

    if "sex" in data and data["sex"] not in (None, ""):
        if data["sex"] not in Sex.values:
            errors.add("sex", _("Sex must be male or female."))
        else:
            out["sex"] = data["sex"]
    if "birth_date" in data and data["birth_date"] not in (None, ""):
        birth = data["birth_date"]
        if not isinstance(birth, date):
            errors.add("birth_date", _("Enter a date as YYYY-MM-DD."))
        elif birth > today:
            errors.add("birth_date", _("The date of birth cannot be in the future."))
        elif birth.year < 1900:
            errors.add("birth_date", _("The date of birth is too early."))
        else:
            out["birth_date"] = birth

    if "id_number" in data:
        raw = _text(data["id_number"])
        out["id_number"] = ""
        if raw:
            try:
                resident = identity.parse_id_number(raw, today=today)
            except identity.IdentifierError as exc:
                errors.add("id_number", identifier_message(exc))
            else:
                out["id_number"] = resident.number
                _check_derived(resident, data, out, existing, errors)
    elif existing is not None and existing.id_number and ("sex" in out or "birth_date" in out):
        _check_derived(identity.parse_id_number(existing.id_number), data, out, existing, errors)

    # An ID number was typed but is wrong: its own error says what to fix; asking for the
    # sex and birth date it would have given only adds noise.
    if creating and "id_number" not in errors:
        if "sex" not in out and "sex" not in errors:
            errors.add("sex", _("Select the sex, or enter an ID number to derive it."))
        if "birth_date" not in out and "birth_date" not in errors:
            errors.add("birth_date", _("Enter the date of birth, or an ID number to derive it."))

    for field, check in (
        ("phone", identity.validate_phone),
        ("passport", identity.validate_passport),
    ):
        if field in data:
            raw = _text(data[field])
            out[field] = ""
            if raw:
                try:
                    out[field] = check(raw)
                except identity.IdentifierError as exc:
                    errors.add(field, identifier_message(exc))

    _clean_care(data, out, actor, existing, errors)
    _clean_preferences(data, out, errors)
    _check_channel_reaches_phone(out, existing, errors)
    if "deceased_on" in data:
        value = data["deceased_on"]
        if value not in (None, "") and (not isinstance(value, date) or value > today):
            errors.add("deceased_on", _("The date of death cannot be in the future."))
        out["deceased_on"] = value or None
    if "contacts" in data:
        out["contacts"] = _clean_contacts(data["contacts"] or [], errors)
    if "consents" in data:
        out["consents"] = _clean_consents(data["consents"] or [], errors)

    if errors:
        raise PatientDataError(dict(errors))
    return out


def _clean_issued_numbers(items: list[Mapping[str, Any]], errors: _Errors) -> list[dict[str, str]]:
    """Record numbers with the organisation that issued them, {field: "mrn" or
    "exam_number", system: the issuer's code, value} (FHIR's urn:careloop:sid:mrn:<issuer>,
    as HL7's PID-3 with its assigning authority): kept under that issuer, not ours."""
    cleaned = []
    for item in items:
        field, system, value = (
            item.get("field"),
            _text(item.get("system")),
            _text(item.get("value")),
        )
        if field not in ("mrn", "exam_number") or not system or len(system) > 64:
            raise ValueError(f"not an issued record number: {item!r}")  # a caller's mistake
        limit = STRING_LIMITS[field]
        if len(value) > limit:
            errors.add(field, _("At most %(limit)d characters.") % {"limit": limit})
        if value:
            cleaned.append({"field": field, "system": system, "value": value})
    return cleaned


def _check_derived(
    resident: identity.ResidentId,
    data: Mapping[str, Any],
    out: dict[str, Any],
    existing: Patient | None,
    errors: _Errors,
) -> None:
    """Sex and birth date come from the ID number; a different value given is an error."""
    sex = out.get("sex") or (existing.sex if existing and "sex" not in data else None)
    birth = out.get("birth_date") or (
        existing.birth_date if existing and "birth_date" not in data else None
    )
    if sex and sex != resident.sex:
        errors.add("sex", _("The sex does not match the ID number."))
    if birth and birth != resident.birth_date:
        errors.add("birth_date", _("The date of birth does not match the ID number."))
    out["sex"] = resident.sex
    out["birth_date"] = resident.birth_date


def _clean_care(
    data: Mapping[str, Any],
    out: dict[str, Any],
    actor: Any,
    existing: Patient | None,
    errors: _Errors,
) -> None:
    allowed = organisations_for(actor)
    if existing is not None and not is_owner(actor, existing):
        # A shared editor corrects the record but does not take the patient over.
        for field in OWNER_FIELDS:
            if field in data and _ref_pk(data[field]) != _ref_pk(getattr(existing, field)):
                errors.add(
                    field, _("Only staff of the patient's own organisation can change this.")
                )
        return
    if "organisation" in data and data["organisation"] not in (None, ""):
        organisation = _resolve(Organisation, data["organisation"])
        if not organisation or not allowed.filter(pk=organisation.pk).exists():
            errors.add("organisation", _("Choose an organisation you work for."))
        else:
            out["organisation"] = organisation
    elif existing is None:
        organisation = getattr(actor, "organisation", None)
        if organisation is None:
            errors.add("organisation", _("Choose the organisation the patient belongs to."))
        else:
            out["organisation"] = organisation
    organisation = out.get("organisation") or (existing.organisation if existing else None)

    moved = existing is not None and organisation != existing.organisation

    def kept(field: str) -> bool:
        """The value stored kept as it is, the patient staying where they are: not asked
        again (a patient followed by a specialist team — 心内科随访组 — is edited elsewhere)."""
        return (
            existing is not None
            and not moved
            and _ref_pk(data[field]) == _ref_pk(getattr(existing, field))
        )

    if "care_team" in data:
        team = _resolve(Team, data["care_team"])
        if team is False or (
            team
            and organisation
            and not kept("care_team")
            and not team.organisation.path.startswith(organisation.path)
        ):
            errors.add("care_team", _("Choose a team of the patient's organisation."))
        else:
            out["care_team"] = team
    for field in ("responsible_doctor", "health_manager"):
        if field in data:
            user = _resolve(User, data[field])
            # They must be able to open the patient: of its organisation or one above it
            # (asked of a new choice, or of the one kept when the patient moves: one set
            # before this rule stays until someone changes it, and the record can be edited).
            if user is False or (
                not kept(field)
                and user
                and organisation
                and (
                    user.organisation is None
                    or not organisation.path.startswith(user.organisation.path)
                )
            ):
                errors.add(
                    field,
                    _(
                        "Choose a staff member who can see the patient: of the patient's "
                        "organisation or one above it."
                    ),
                )
            else:
                out[field] = user


OWNER_FIELDS = ("organisation", "care_team", "responsible_doctor", "health_manager")


def _ref_pk(value: Any) -> Any:
    if value in (None, ""):
        return None
    return getattr(value, "pk", value)


def _check_channel_reaches_phone(
    out: dict[str, Any], existing: Patient | None, errors: _Errors
) -> None:
    """A landline gets no SMS, and one behind an extension no automated voice call either:
    such a preferred channel would never reach the patient (the page saying so beside it)."""
    channel = out.get("preferred_channel")
    if channel not in (Channel.SMS, Channel.VOICE) or "preferred_channel" in errors:
        return
    phone = out.get("phone", existing.phone if existing else "")
    kind = identity.phone_kind(phone or "")
    if channel == Channel.SMS and kind in ("landline", "extension"):
        errors.add(
            "preferred_channel",
            _("A landline gets no SMS: choose phone calls or automated voice calls."),
        )
    elif channel == Channel.VOICE and kind == "extension":
        errors.add(
            "preferred_channel",
            _("An automated voice call cannot dial an extension: choose phone calls."),
        )


def _clean_preferences(data: Mapping[str, Any], out: dict[str, Any], errors: _Errors) -> None:
    if "preferred_channel" in data:
        value = data["preferred_channel"] or ""
        if value and value not in Channel.values:
            errors.add("preferred_channel", _("Unknown channel."))
        out["preferred_channel"] = value
    if "digital_literacy" in data:
        value = data["digital_literacy"] or DigitalLiteracy.MEDIUM
        if value not in DigitalLiteracy.values:
            errors.add("digital_literacy", _("Digital literacy must be high, medium or low."))
        out["digital_literacy"] = value
    for field in ("quiet_hours_start", "quiet_hours_end"):
        if field in data and data[field] not in (None, ""):
            value = data[field]
            if isinstance(value, str):
                try:
                    value = time.fromisoformat(value)
                except ValueError:
                    value = None
            if not isinstance(value, time) or value.tzinfo is not None:
                errors.add(field, _("Enter a time as HH:MM."))
            else:
                out[field] = value
    if "lives_alone" in data:
        out["lives_alone"] = bool(data["lives_alone"])
    if "risk_tier" in data:  # set by staff as well as by rules ("" for not stratified)
        value = data["risk_tier"] or ""
        if value and value not in Tier.values:
            errors.add("risk_tier", _("Risk tier must be high, medium or low."))
        out["risk_tier"] = value


def _clean_contacts(items: list[Mapping[str, Any]], errors: _Errors) -> list[dict[str, Any]]:
    cleaned = []
    for index, item in enumerate(items):
        prefix = f"contacts[{index}]."
        name = _text(item.get("name"))
        relation = item.get("relation") or Contact.Relation.OTHER
        phone = _text(item.get("phone"))
        if not name:
            errors.add(prefix + "name", _("Enter the contact's name."))
        elif len(name) > 50:
            errors.add(prefix + "name", _("At most %(limit)d characters.") % {"limit": 50})
        if relation not in Contact.Relation.values:
            errors.add(prefix + "relation", _("Unknown relation."))
        if phone:
            try:
                phone = identity.validate_phone(phone)
            except identity.IdentifierError as exc:
                errors.add(prefix + "phone", identifier_message(exc))
        cleaned.append(
            {
                "name": name,
                "relation": relation,
                "phone": phone,
                "is_guardian": bool(item.get("is_guardian")),
                "is_emergency": bool(item.get("is_emergency")),
                "note": _text(item.get("note"))[:200],
            }
        )
    return cleaned


def _consent_problems(item: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    purpose, channel = item.get("purpose"), item.get("channel")
    method = item.get("method") or ConsentRecord.Method.WRITTEN
    problems = {}
    if purpose not in ConsentRecord.Purpose.values:
        problems["purpose"] = _("Unknown consent purpose.")
    if channel not in Channel.values:
        problems["channel"] = _("Unknown channel.")
    if method not in ConsentRecord.Method.values:
        problems["method"] = _("Unknown way of giving consent.")
    clean = {
        "purpose": purpose,
        "channel": channel,
        "granted": bool(item.get("granted", True)),
        "method": method,
    }
    return clean, problems


def clean_consent(item: Mapping[str, Any]) -> dict[str, Any]:
    """One consent answer {purpose, channel, granted, method}, or PatientDataError."""
    clean, problems = _consent_problems(item)
    if problems:
        raise PatientDataError({field: [message] for field, message in problems.items()})
    return clean


def _clean_consents(items: list[Mapping[str, Any]], errors: _Errors) -> list[dict[str, Any]]:
    cleaned = []
    for index, item in enumerate(items):
        clean, problems = _consent_problems(item)
        for field, message in problems.items():
            errors.add(f"consents[{index}].{field}", message)
        cleaned.append(clean)
    return cleaned
