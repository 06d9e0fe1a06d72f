"""Clinical data: the ICD-10 catalogue, encounters, diagnoses and procedures."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    """Where a clinical record came from."""

    MANUAL = "manual", _("entered by staff")
    HL7 = "hl7", _("HL7 v2")
    FHIR = "fhir", _("FHIR")
    IMPORT = "import", _("file import")
    DEMO = "demo", _("demo data")
    PATIENT = "patient", _("measured by the patient")


class Icd10Code(models.Model):
    """An ICD-10 code with its Chinese name (国家临床版 naming), for diagnosis entry."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("ICD-10 code")
        verbose_name_plural = _("ICD-10 codes")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Encounter(models.Model):
    """A visit (就诊): outpatient, admission to discharge, emergency, physical exam, home visit."""

    class Kind(models.TextChoices):
        OUTPATIENT = "outpatient", _("outpatient visit")
        INPATIENT = "inpatient", _("hospital stay")
        EMERGENCY = "emergency", _("emergency visit")
        EXAM = "exam", _("physical exam")
        HOME_VISIT = "home_visit", _("home visit")

    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        IN_PROGRESS = "in_progress", _("in progress")
        FINISHED = "finished", _("finished")
        CANCELLED = "cancelled", _("cancelled")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="encounters"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.FINISHED
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    department = models.CharField(_("department"), max_length=50, blank=True)
    # Ward, room and bed (HL7 PV1-3: point of care/room/bed), as the sender last said.
    location = models.CharField(
        _("ward and bed"), max_length=100, blank=True, default="", db_default=""
    )
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    reason = models.CharField(_("reason for visit"), max_length=200, blank=True)
    visit_number = models.CharField(_("visit number"), max_length=50, blank=True)
    # Total charges of the visit in yuan (HL7 PV1-47), for the patient's value tier.
    charges = models.DecimalField(
        _("charges (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("encounter")
        verbose_name_plural = _("encounters")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["patient", "-started_at"], name="encounter_patient_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d}"


class Condition(models.Model):
    """A diagnosis (诊断) coded in ICD-10, with its Chinese name."""

    class ClinicalStatus(models.TextChoices):
        ACTIVE = "active", _("active")
        REMISSION = "remission", _("in remission")
        RESOLVED = "resolved", _("resolved")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="conditions"
    )
    icd10_code = models.CharField(_("ICD-10 code"), max_length=16, db_index=True)
    name = models.CharField(_("diagnosis"), max_length=100)
    clinical_status = models.CharField(
        _("status"), max_length=20, choices=ClinicalStatus.choices, default=ClinicalStatus.ACTIVE
    )
    onset_date = models.DateField(_("onset or diagnosis date"), null=True, blank=True)
    encounter = models.ForeignKey(
        Encounter,
        verbose_name=_("encounter"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conditions",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("diagnosis")
        verbose_name_plural = _("diagnoses")
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.name}"


class Procedure(models.Model):
    """A procedure or operation (手术操作), coded in ICD-9-CM-3 (国家临床版) or another
    system; an operation in the last 30 days makes the patient 术后 (DOMAIN F5)."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("completed")
        IN_PROGRESS = "in_progress", _("in progress")
        STOPPED = "stopped", _("stopped before completion")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="procedures"
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    encounter = models.ForeignKey(
        Encounter,
        verbose_name=_("encounter"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="procedures",
    )
    code_system = models.CharField(_("code system"), max_length=100, default="ICD-9-CM-3")
    code = models.CharField(_("procedure code"), max_length=32, db_index=True)
    name = models.CharField(_("procedure"), max_length=100, blank=True)
    is_surgery = models.BooleanField(_("operation"), default=False)
    performed_at = models.DateTimeField(_("performed at"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.COMPLETED
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    source_message = models.ForeignKey(
        "interop.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("procedure")
        verbose_name_plural = _("procedures")
        ordering = ["-performed_at", "-id"]
        indexes = [models.Index(fields=["patient", "-performed_at"], name="procedure_patient_time")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()
