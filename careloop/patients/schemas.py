"""API schemas for patients. Identifiers always leave masked; reveal them with /reveal."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from ninja import Field, Schema

from careloop.patients import identity
from careloop.patients.models import ConsentRecord, Patient, PatientShare

# A wall-clock time "HH:MM" in the patient's local time (quiet hours); JSON Schema's "time"
# format would demand a UTC offset, which a daily quiet period does not have.
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["21:00"])]


SexCode = Literal["male", "female"]
ChannelCode = Literal[
    "phone", "sms", "wechat", "wecom", "app", "voice", "email", "home_visit", "letter"
]
PreferredChannel = Literal[
    "", "phone", "sms", "wechat", "wecom", "app", "voice", "email", "home_visit", "letter"
]
LiteracyCode = Literal["high", "medium", "low"]
TierCode = Literal["high", "medium", "low", ""]
PurposeCode = Literal["followup", "education", "research", "marketing"]
MethodCode = Literal["written", "verbal", "electronic", "reply"]
RelationCode = Literal["spouse", "child", "parent", "sibling", "grandchild", "caregiver", "other"]
Name = Annotated[str, Field(max_length=50)]


class ContactIn(Schema):
    name: Name
    relation: RelationCode = "other"
    phone: str | None = None
    is_guardian: bool = False
    is_emergency: bool = False
    note: str | None = Field(None, max_length=200)


class ConsentIn(Schema):
    purpose: PurposeCode
    channel: ChannelCode
    granted: bool = True
    method: MethodCode | None = None
    note: str | None = Field(None, max_length=200)


class PatientFields(Schema):
    sex: SexCode | None = Field(None, description="derived from id_number if absent")
    birth_date: date | None = Field(None, description="derived from id_number if absent")
    id_number: str | None = Field(
        None,
        description="居民身份证, 18 characters, or the 15 digits of a first-generation card "
        "(stored as the 18-character number it converts to)",
    )
    phone: str | None = Field(
        None,
        description="a mainland mobile number, or a landline with its area code "
        "(010-62345678; an extension after 转 or -), never sent an SMS",
    )
    passport: str | None = None
    address: str | None = None
    mrn: str | None = Field(None, description="门诊号/住院号 issued by the patient's organisation")
    exam_number: str | None = Field(None, description="体检号")
    organisation: int | None = Field(None, description="organisation id (default: yours)")
    care_team: int | None = None
    responsible_doctor: int | None = None
    health_manager: int | None = None
    preferred_channel: PreferredChannel | None = Field(None, description="'' for none")
    quiet_hours_start: ClockTime | None = None
    quiet_hours_end: ClockTime | None = None
    digital_literacy: LiteracyCode | None = None
    lives_alone: bool | None = None
    deceased_on: date | None = None
    risk_tier: TierCode | None = Field(None, description="'' for not stratified")
    contacts: list[ContactIn] | None = None


class PatientIn(PatientFields):
    name: Name
    consents: list[ConsentIn] | None = None


class PatientPatch(PatientFields):
    name: Name | None = None


class Ref(Schema):
    id: int
    name: str


class ContactOut(Schema):
    name: str
    relation: str
    phone: str = Field(description="masked")
    is_guardian: bool
    is_emergency: bool
    note: str


class ConsentOut(Schema):
    id: int
    purpose: str
    channel: str
    granted: bool
    method: str
    note: str
    recorded_at: datetime
    recorded_by: str | None

    @staticmethod
    def from_record(item: ConsentRecord) -> ConsentOut:
        return ConsentOut(
            id=item.pk,
            purpose=item.purpose,
            channel=item.channel,
            granted=item.granted,
            method=item.method,
            note=item.note,
            recorded_at=item.recorded_at,
            recorded_by=item.recorded_by.get_username() if item.recorded_by else None,
        )


class PatientOut(Schema):
    id: int
    card_number: str
    name: str
    sex: str
    birth_date: date
    age: int
    id_number: str = Field(description="masked, e.g. 110101********0014")
    phone: str = Field(description="masked, e.g. 138****8000 or 010-****5678")
    phone_kind: str = Field(
        description="mobile, landline or extension (a landline reached through an "
        "extension); empty without a phone. SMS goes to a mobile only, an automated voice "
        "call not to an extension"
    )
    passport: str = Field(description="masked")
    address: str
    mrn: str = Field(description="masked, e.g. MZ******34")
    exam_number: str = Field(description="masked")
    organisation: Ref
    care_team: Ref | None
    responsible_doctor: Ref | None
    health_manager: Ref | None
    preferred_channel: str
    quiet_hours_start: ClockTime
    quiet_hours_end: ClockTime
    digital_literacy: str
    lives_alone: bool
    deceased_on: date | None
    risk_tier: str = Field(description="high, medium, low, or '' (not stratified)")
    contacts: list[ContactOut]
    consents: list[ConsentOut] = Field(description="current answer per purpose and channel")
    created_at: datetime
    updated_at: datetime
    url: str


class PatientPage(Schema):
    count: int
    page: int
    page_size: int
    next: str | None
    previous: str | None
    results: list[PatientOut]


class RevealIn(Schema):
    field: Literal["id_number", "phone", "passport", "record_numbers"]


class RevealOut(Schema):
    field: str
    value: str


def _ref(obj: object | None) -> Ref | None:
    if obj is None:
        return None
    return Ref(id=obj.pk, name=str(obj))  # type: ignore[attr-defined]


def patient_out(patient: Patient, *, consents: list[ConsentRecord] | None = None) -> PatientOut:
    from careloop.patients.services import current_consents, record_numbers

    numbers = record_numbers(patient)
    if consents is None:
        consents = list(current_consents(patient).values())
    return PatientOut(
        id=patient.pk,
        card_number=patient.card_number,
        name=patient.name,
        sex=patient.sex,
        birth_date=patient.birth_date,
        age=patient.age,
        id_number=patient.masked_id_number,
        phone=patient.masked_phone,
        phone_kind=patient.phone_kind,
        passport=patient.masked_passport,
        address=patient.address,
        mrn=identity.mask_record_number(numbers["mrn"]),
        exam_number=identity.mask_record_number(numbers["exam_number"]),
        organisation=Ref(id=patient.organisation.pk, name=patient.organisation.name),
        care_team=_ref(patient.care_team),
        responsible_doctor=_ref(patient.responsible_doctor),
        health_manager=_ref(patient.health_manager),
        preferred_channel=patient.preferred_channel,
        quiet_hours_start=f"{patient.quiet_hours_start:%H:%M}",
        quiet_hours_end=f"{patient.quiet_hours_end:%H:%M}",
        digital_literacy=patient.digital_literacy,
        lives_alone=patient.lives_alone,
        deceased_on=patient.deceased_on,
        risk_tier=patient.risk_tier,
        contacts=[
            ContactOut(
                name=c.name,
                relation=c.relation,
                phone=c.masked_phone,
                is_guardian=c.is_guardian,
                is_emergency=c.is_emergency,
                note=c.note,
            )
            for c in patient.contacts.all()
        ],
        consents=[ConsentOut.from_record(item) for item in consents],
        created_at=patient.created_at,
        updated_at=patient.updated_at,
        url=patient.get_absolute_url(),
    )


class ShareIn(Schema):
    organisation: int = Field(description="id of the organisation to share with")
    can_edit: bool = False
    reason: str = Field("", max_length=200)


class ShareOut(Schema):
    id: int
    organisation: Ref
    can_edit: bool
    reason: str
    shared_at: datetime
    shared_by: str | None

    @staticmethod
    def from_share(share: PatientShare) -> ShareOut:
        return ShareOut(
            id=share.pk,
            organisation=Ref(id=share.organisation.pk, name=share.organisation.name),
            can_edit=share.can_edit,
            reason=share.reason,
            shared_at=share.shared_at,
            shared_by=share.shared_by.get_username() if share.shared_by else None,
        )
