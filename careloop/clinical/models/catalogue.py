"""The catalogue of exam and lab items (检验检查项目), their reference ranges and the
critical values (危急值) each organisation sets."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from careloop.clinical.grading import CriticalBounds, Interval


class ObservationDefinition(models.Model):
    """A LOINC-coded item with its Chinese name and the unit results are normalised to."""

    class Category(models.TextChoices):
        VITAL = "vital", _("vital signs and body measures")
        GLUCOSE = "glucose", _("glucose")
        LIPID = "lipid", _("lipids")
        CHEMISTRY = "chemistry", _("chemistry")
        ELECTROLYTE = "electrolyte", _("electrolytes")
        THYROID = "thyroid", _("thyroid")
        TUMOUR_MARKER = "tumour_marker", _("tumour markers")
        HAEMATOLOGY = "haematology", _("blood count")
        CARDIAC = "cardiac", _("cardiac markers")
        COAGULATION = "coagulation", _("coagulation")
        BLOOD_GAS = "blood_gas", _("blood gas")
        MICROBIOLOGY = "microbiology", _("microbiology")
        OTHER = "other", _("other")

    code = models.CharField(_("LOINC code"), max_length=20, unique=True)
    name = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, default=Category.OTHER
    )
    unit = models.CharField(
        _("unit"),
        max_length=30,
        blank=True,
        help_text=_("numeric results are converted to this unit"),
    )

    class Meta:
        verbose_name = _("exam item")
        verbose_name_plural = _("exam items")
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ReferenceRange(models.Model):
    """The default normal interval of an item by sex and age (the sender's range wins)."""

    class Sex(models.TextChoices):
        ANY = "any", _("any")
        MALE = "male", _("male")
        FEMALE = "female", _("female")

    code = models.CharField(_("LOINC code"), max_length=20, db_index=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices, default=Sex.ANY)
    age_from = models.PositiveSmallIntegerField(_("age from"), default=0)
    age_to = models.PositiveSmallIntegerField(_("age below"), null=True, blank=True)
    low = models.FloatField(_("low"), null=True, blank=True)
    low_inclusive = models.BooleanField(_("low bound is normal"), default=True)
    high = models.FloatField(_("high"), null=True, blank=True)
    high_inclusive = models.BooleanField(_("high bound is normal"), default=True)
    note = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("reference range")
        verbose_name_plural = _("reference ranges")
        ordering = ["code", "sex", "age_from"]

    def __str__(self) -> str:
        return f"{self.code} {self.sex} {self.age_from}+ {self.interval().text()}"

    def interval(self) -> Interval:
        return Interval(self.low, self.high, self.low_inclusive, self.high_inclusive)

    def applies_to(self, sex: str, age: int) -> bool:
        return (
            self.sex in (self.Sex.ANY, sex)
            and age >= self.age_from
            and (self.age_to is None or age < self.age_to)
        )


class CriticalValueRule(models.Model):
    """A critical value threshold for an item. Rows without an organisation are the defaults;
    an organisation's own row (or its nearest parent's) replaces them. A row for a patient
    group (newborns; haematology or chemotherapy patients, known from their diagnoses) applies
    to that group before the row for all patients (REFERENCE §4.5: "patient-group
    overrides")."""

    class Group(models.TextChoices):
        ALL = "", _("all patients")
        NEONATE = "neonate", _("newborns (first 28 days)")
        HAEMATOLOGY = "haematology", _("haematology or chemotherapy patients")

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="critical_value_rules",
        help_text=_("empty: the default for every organisation"),
    )
    code = models.CharField(_("LOINC code"), max_length=20)
    patient_group = models.CharField(
        _("patient group"), max_length=20, choices=Group.choices, default=Group.ALL, blank=True
    )
    low = models.FloatField(_("critical low"), null=True, blank=True)
    low_inclusive = models.BooleanField(_("the low value itself is critical"), default=True)
    high = models.FloatField(_("critical high"), null=True, blank=True)
    high_inclusive = models.BooleanField(_("the high value itself is critical"), default=True)
    positive = models.BooleanField(
        _("a positive result is critical"),
        default=False,
        help_text=_("for qualitative results such as cultures: any result that is not negative"),
    )
    first_only = models.BooleanField(
        _("first occurrence only"),
        default=False,
        help_text=_(
            "only the patient's first critical result of this item raises a critical-value "
            "alert; later ones are graded abnormal"
        ),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("critical value")
        verbose_name_plural = _("critical values")
        ordering = ["organisation_id", "code", "patient_group"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "code", "patient_group"], name="critical_rule_unique"
            ),
            models.UniqueConstraint(
                fields=["code", "patient_group"],
                condition=models.Q(organisation=None),
                name="critical_default_unique",
                violation_error_message=_(
                    "A default critical value for this code and patient group already "
                    "exists: change that one instead."
                ),
            ),
        ]

    def __str__(self) -> str:
        bounds = self.bounds()
        parts = [self.code, bounds.low_text(), bounds.high_text()]
        if self.positive:
            parts.append(str(_("positive")))
        if self.patient_group:
            parts.append(str(self.get_patient_group_display()))
        return " ".join(part for part in parts if part)

    def clean(self) -> None:
        """An administrator's row must say when a result is critical, sensibly, for an item
        the catalogue knows (grading never looks up a code it does not know)."""
        errors: dict[str, Any] = {}
        if self.low is None and self.high is None and not self.positive:
            errors["low"] = _(
                "Set a critical low, a critical high, or that a positive result is critical: "
                "a row with none of them would turn the item's critical value off."
            )
        if self.low is not None and self.high is not None and self.low >= self.high:
            errors["high"] = _("The critical high must be above the critical low.")
        if self.code and not ObservationDefinition.objects.filter(code=self.code).exists():
            errors["code"] = _(
                "%(code)s is not an item of the exam catalogue: add the item first."
            ) % {"code": self.code}
        if errors:
            raise ValidationError(errors)

    def bounds(self) -> CriticalBounds:
        return CriticalBounds(
            self.low,
            self.high,
            self.low_inclusive,
            self.high_inclusive,
            positive=self.positive,
            first_only=self.first_only,
        )
