"""The patient (患者/客户) and their identifiers and contacts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.fields import BlindIndexField, DerivedCharField, EncryptedTextField, index_field
from careloop.patients import identity

_NORMALISE = "careloop.patients.identity."


class Sex(models.TextChoices):
    MALE = "male", _("male")
    FEMALE = "female", _("female")


class Channel(models.TextChoices):
    """Ways of reaching a patient (DOMAIN.md F9)."""

    PHONE = "phone", _("phone call")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    WECOM = "wecom", _("WeCom")
    APP = "app", _("app push")
    VOICE = "voice", _("automated voice call")
    EMAIL = "email", _("e-mail")
    HOME_VISIT = "home_visit", _("home visit")
    CLINIC = "clinic", _("clinic visit")
    VIDEO = "video", _("video call")
    LETTER = "letter", _("letter")


class PhoneKind(models.TextChoices):
    """What the patient's phone is (``identity.phone_kind``): SMS needs a mobile, and an
    automated voice call a line that reaches the patient, not a switchboard."""

    NONE = "", _("no phone")
    MOBILE = "mobile", _("mobile")
    LANDLINE = "landline", _("landline")
    EXTENSION = "extension", _("landline with an extension")


class DigitalLiteracy(models.TextChoices):
    HIGH = "high", _("high")
    MEDIUM = "medium", _("medium")
    LOW = "low", _("low")


class Tier(models.TextChoices):
    """Risk tier and value tier (F5)."""

    HIGH = "high", _("high")
    MEDIUM = "medium", _("medium")
    LOW = "low", _("low")


def _tier_field(label: Any) -> models.CharField:
    return models.CharField(
        label, max_length=10, choices=Tier.choices, blank=True, default="", db_default=""
    )


class Patient(models.Model):
    """A patient or health-management customer (患者/客户), enrolled with a member card.

    Identifiers and phone are encrypted at rest; each has a keyed hash beside it for exact
    lookup (see careloop/crypto.py). Reach a patient through patients.access, never directly.
    """

    card_number = models.CharField(_("member card number"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=50, db_index=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices)
    birth_date = models.DateField(_("date of birth"))

    id_number = EncryptedTextField(_("resident ID number"), blank=True, default="")
    id_number_hash = BlindIndexField(
        source="id_number", normaliser=_NORMALISE + "normalise_id_number", unique=True
    )
    passport = EncryptedTextField(_("passport number"), blank=True, default="")
    passport_hash = BlindIndexField(
        source="passport", normaliser=_NORMALISE + "normalise_passport", unique=True
    )
    phone = EncryptedTextField(_("phone number"), blank=True, default="")  # mobile or landline
    phone_hash = BlindIndexField(
        source="phone", normaliser=_NORMALISE + "normalise_phone", db_index=True
    )
    # Set from the phone on every save (never typed): read by channel choice without
    # decrypting the phone.
    phone_kind = DerivedCharField(
        _("kind of phone"),
        max_length=10,
        choices=PhoneKind.choices,
        blank=True,
        default="",
        db_default="",
        source="phone",
        deriver=_NORMALISE + "phone_kind",
    )
    address = EncryptedTextField(_("address"), blank=True, default="")

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="patients",
    )
    care_team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("care team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patients",
    )
    responsible_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible doctor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    health_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("health manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    preferred_channel = models.CharField(
        _("preferred channel"), max_length=20, choices=Channel.choices, blank=True
    )
    quiet_hours_start = models.TimeField(_("quiet hours from"), default=time(21, 0))
    quiet_hours_end = models.TimeField(_("quiet hours until"), default=time(8, 0))
    digital_literacy = models.CharField(
        _("digital literacy"),
        max_length=10,
        choices=DigitalLiteracy.choices,
        default=DigitalLiteracy.MEDIUM,
    )
    lives_alone = models.BooleanField(_("lives alone"), default=False)
    deceased_on = models.DateField(_("date of death"), null=True, blank=True)
    # Set by rules or by hand (F5); "" = not stratified yet. db_default: bulk loads that
    # name their columns (HL7 enrolment, demo) leave them out.
    risk_tier = _tier_field(_("risk tier"))
    value_tier = _tier_field(_("value tier"))

    # Merged into another record (HL7 ADT^A40): its records were moved there; what could not
    # be (a duplicate of a result the other has) stays here. Messages naming it by an
    # identifier it kept find the other record (interop.patients.match_patient).
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_records",
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)

    created_at = models.DateTimeField(_("enrolled at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enrolled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("reveal_phone", _("Can reveal a patient's full phone number")),
            ("reveal_identifier", _("Can reveal a patient's full ID and passport number")),
            ("export_patient", _("Can export patient lists")),
            ("share_patient", _("Can share a patient with another organisation")),
        ]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="patient_org_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.card_number})"

    def get_absolute_url(self) -> str:
        return reverse("patients:detail", args=[self.pk])

    @property
    def age(self) -> int:
        return identity.age_on(self.birth_date, timezone.localdate())

    @property
    def age_text(self) -> str:
        """The age as staff read it: years, or for a baby months, or in the first month days
        (a newborn is "5天", not "0岁")."""
        return identity.age_text(self.birth_date, timezone.localdate())

    @property
    def masked_id_number(self) -> str:
        return identity.mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return identity.mask_phone(self.phone)

    @property
    def masked_passport(self) -> str:
        return identity.mask_passport(self.passport)

    @property
    def masked_address(self) -> str:
        return identity.mask_address(self.address)

    @property
    def is_deceased(self) -> bool:
        return self.deceased_on is not None

    @property
    def formatted_card_number(self) -> str:
        number = self.card_number
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))

    @classmethod
    def index_hashes(cls, field: str, value: str) -> Sequence[str]:
        """Keyed hashes to look ``value`` up in ``<field>_hash`` (one per configured key)."""
        return index_field(cls, f"{field}_hash").lookup_hashes(value)

    def age_on(self, day: date) -> int:
        return identity.age_on(self.birth_date, day)


class PatientIdentifier(models.Model):
    """A record number issued by an organisation: 门诊号/住院号 (MRN) or 体检号 (exam number).

    ``system`` is the issuer: our organisation code, or the HL7 assigning authority.
    """

    class Kind(models.TextChoices):
        MRN = "mrn", _("medical record number")
        EXAM = "exam", _("exam number")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    system = models.CharField(_("issuer"), max_length=64)
    value = EncryptedTextField(_("number"))
    value_hash = BlindIndexField(
        source="value", normaliser=_NORMALISE + "normalise_plain", purpose="record_number"
    )

    class Meta:
        verbose_name = _("record number")
        verbose_name_plural = _("record numbers")
        constraints = [
            # The hash leads: numbers are looked up by hash alone (a batch of inbound
            # results asks for many at once), and it is what tells them apart.
            models.UniqueConstraint(
                fields=["value_hash", "kind", "system"], name="identifier_unique_per_issuer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.system}"

    @property
    def masked_value(self) -> str:
        return identity.mask_record_number(self.value)

    @classmethod
    def index_hashes(cls, value: str) -> Sequence[str]:
        return index_field(cls, "value_hash").lookup_hashes(value)


class PatientContact(models.Model):
    """A family contact or guardian (家属/监护人)."""

    class Relation(models.TextChoices):
        SPOUSE = "spouse", _("spouse")
        CHILD = "child", _("child")
        PARENT = "parent", _("parent")
        SIBLING = "sibling", _("sibling")
        GRANDCHILD = "grandchild", _("grandchild")
        CAREGIVER = "caregiver", _("caregiver")
        OTHER = "other", _("other")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=50)
    relation = models.CharField(_("relation"), max_length=20, choices=Relation.choices)
    phone = EncryptedTextField(_("phone number"), blank=True, default="")  # mobile or landline
    is_guardian = models.BooleanField(_("guardian"), default=False)
    is_emergency = models.BooleanField(_("emergency contact"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relation_display()})"

    @property
    def masked_phone(self) -> str:
        return identity.mask_phone(self.phone)
