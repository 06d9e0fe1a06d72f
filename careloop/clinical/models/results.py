"""Results: exam reports (体检/检验报告) and their observations (检验检查结果)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.clinical.grading import Interval
from careloop.clinical.models.records import Source
from careloop.clinical.units import canonical_unit

LOINC = "http://loinc.org"


class Interpretation(models.TextChoices):
    NORMAL = "N", _("normal")
    LOW = "L", _("low")
    HIGH = "H", _("high")
    CRITICAL_LOW = "LL", _("critically low")
    CRITICAL_HIGH = "HH", _("critically high")
    ABNORMAL = "A", _("abnormal")


class DiagnosticReport(models.Model):
    """A report: an exam or lab order's results with its conclusion (结论)."""

    class Status(models.TextChoices):
        REGISTERED = "registered", _("registered")
        PARTIAL = "partial", _("partial")
        PRELIMINARY = "preliminary", _("preliminary")
        FINAL = "final", _("final")
        AMENDED = "amended", _("amended")
        CANCELLED = "cancelled", _("cancelled")

    # Indexes are kept to what queries use (every result pays for each one): the patient's
    # reports go through report_patient_time, encounters are rare on results.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="reports", db_index=False
    )
    encounter = models.ForeignKey(
        "clinical.Encounter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        db_index=False,
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.CharField(_("order code"), max_length=50, blank=True)
    code_system = models.CharField(max_length=100, blank=True)
    name = models.CharField(_("report"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.FINAL
    )
    effective_at = models.DateTimeField(_("collected at"), db_index=True)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    conclusion = models.TextField(_("conclusion"), blank=True)
    filler_order_number = models.CharField(_("report number"), max_length=64, blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    source_message = models.ForeignKey(
        "interop.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-effective_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-effective_at"], name="report_patient_time"),
            models.Index(
                fields=["encounter"],
                condition=models.Q(encounter__isnull=False),
                name="report_encounter",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.code} {self.effective_at:%Y-%m-%d}"


class Observation(models.Model):
    """One result: a value with its unit, the sender's code kept beside the LOINC code, the
    reference range used, and the grade (interpretation) given to it."""

    class ValueType(models.TextChoices):
        NUMERIC = "numeric", _("number")
        TEXT = "text", _("text")
        CODED = "coded", _("coded")

    class Status(models.TextChoices):
        PRELIMINARY = "preliminary", _("preliminary")
        FINAL = "final", _("final")
        CORRECTED = "corrected", _("corrected")
        CANCELLED = "cancelled", _("cancelled")

    patient = models.ForeignKey(  # indexed by obs_patient_code_time and obs_patient_time
        "patients.Patient", on_delete=models.CASCADE, related_name="observations", db_index=False
    )
    report = models.ForeignKey(
        DiagnosticReport,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="observations",
    )
    encounter = models.ForeignKey(
        "clinical.Encounter",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="observations",
        db_index=False,  # obs_encounter, only where there is one
    )
    panel = models.ForeignKey(  # a component's panel (a blood pressure's systolic, diastolic)
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="components",
        db_index=False,  # obs_panel, only where there is one
    )
    code_system = models.CharField(
        max_length=100, blank=True, help_text=_("http://loinc.org when the item is mapped")
    )
    code = models.CharField(_("code"), max_length=30, blank=True)
    local_system = models.CharField(_("sender's code system"), max_length=100, blank=True)
    local_code = models.CharField(_("sender's code"), max_length=50, blank=True)
    name = models.CharField(_("item"), max_length=200)
    value_type = models.CharField(
        max_length=10, choices=ValueType.choices, default=ValueType.NUMERIC
    )
    value = models.FloatField(_("value"), null=True, blank=True)
    comparator = models.CharField(max_length=2, blank=True, help_text=_("<, >, <=, >= as sent"))
    value_text = models.CharField(_("value as sent"), max_length=500, blank=True)
    unit = models.CharField(_("unit as sent"), max_length=30, blank=True)
    value_normalised = models.FloatField(_("normalised value"), null=True, blank=True)
    unit_normalised = models.CharField(_("normalised unit"), max_length=30, blank=True)
    ref_low = models.FloatField(null=True, blank=True)
    ref_low_inclusive = models.BooleanField(default=True)
    ref_high = models.FloatField(null=True, blank=True)
    ref_high_inclusive = models.BooleanField(default=True)
    ref_text = models.CharField(_("reference range"), max_length=60, blank=True)
    interpretation = models.CharField(
        _("grade"), max_length=2, choices=Interpretation.choices, blank=True
    )
    critical = models.BooleanField(_("critical"), default=False)
    sender_flags = models.CharField(_("sender's abnormal flags"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.FINAL
    )
    effective_at = models.DateTimeField(_("observed at"))
    note = models.TextField(_("note"), blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    source_message = models.ForeignKey(
        "interop.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("result")
        verbose_name_plural = _("results")
        ordering = ["-effective_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "code", "-effective_at"], name="obs_patient_code_time"),
            models.Index(fields=["patient", "-effective_at"], name="obs_patient_time"),
            models.Index(
                fields=["encounter"],
                condition=models.Q(encounter__isnull=False),
                name="obs_encounter",
            ),
            models.Index(
                fields=["panel"], condition=models.Q(panel__isnull=False), name="obs_panel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.display_value}"

    @property
    def shown_number(self) -> str:
        """The value as written on a report: "5.6", ">30" (censored), "阴性", "138/88"."""
        if self.value_type == self.ValueType.NUMERIC and self.value is not None:
            shown = self.value_text or f"{self.value:g}"
            if not shown.startswith(("<", ">", "≤", "≥", "＜", "＞")):  # ">30" sent as text
                shown = f"{self.comparator}{shown}"
            return shown
        return self.value_text

    @property
    def shown_unit(self) -> str:
        """The unit of ``shown_number``: as sent, or, for a number sent without one, the
        catalogue's unit it was read in (unit_normalised)."""
        if self.value_type == self.ValueType.NUMERIC and self.value is not None:
            return self.unit or (self.unit_normalised if self.value_normalised is not None else "")
        return ""

    @property
    def display_value(self) -> str:
        return f"{self.shown_number} {self.shown_unit}".strip()

    @property
    def display_normalised(self) -> str:
        """The value in the item's normalised unit where it was converted to it (2.0 mg/dL
        of creatinine: "176.8 umol/L"); else as ``display_value``. For a table whose row
        names the unit, beside values sent in it."""
        converted = (
            self.value_type == self.ValueType.NUMERIC
            and self.value_normalised is not None
            and self.unit_normalised
            and self.unit
            and canonical_unit(self.unit) != canonical_unit(self.unit_normalised)
        )
        if not converted:
            return self.display_value
        first = self.shown_number[:1]
        comparator = first if first and first in "<>≤≥＜＞" else ""
        return f"{comparator}{round(self.value_normalised or 0, 2):g} {self.unit_normalised}"

    @property
    def abnormal(self) -> bool:
        return bool(self.interpretation) and self.interpretation != Interpretation.NORMAL

    def reference(self) -> Interval | None:
        if self.ref_low is None and self.ref_high is None:
            return None
        return Interval(
            self.ref_low, self.ref_high, self.ref_low_inclusive, self.ref_high_inclusive
        )
