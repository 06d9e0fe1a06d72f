"""The health record (健康档案): history, family history, allergies, medications, lifestyle.

Diagnoses and encounters are clinical data and live in the clinical app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.patients.models.patient import Patient


class RecordItem(models.Model):
    """Common columns of every health-record entry."""

    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True
        ordering = ["-recorded_at", "-id"]


class PastHistory(RecordItem):
    """既往史: past illness, operation, injury or transfusion."""

    class Kind(models.TextChoices):
        DISEASE = "disease", _("illness")
        SURGERY = "surgery", _("operation")
        TRAUMA = "trauma", _("injury")
        TRANSFUSION = "transfusion", _("transfusion")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="past_history")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("description"), max_length=100)
    icd10_code = models.CharField(_("ICD-10 code"), max_length=16, blank=True)
    occurred_on = models.DateField(_("date"), null=True, blank=True)

    class Meta(RecordItem.Meta):
        verbose_name = _("past history")
        verbose_name_plural = _("past history")

    def __str__(self) -> str:
        return self.name


class FamilyHistory(RecordItem):
    """家族史: a condition of a relative."""

    class Relation(models.TextChoices):
        FATHER = "father", _("father")
        MOTHER = "mother", _("mother")
        SIBLING = "sibling", _("brother or sister")
        CHILD = "child", _("child")
        GRANDPARENT = "grandparent", _("grandparent")
        OTHER = "other", _("other relative")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="family_history")
    relation = models.CharField(_("relative"), max_length=20, choices=Relation.choices)
    condition = models.CharField(_("condition"), max_length=100)
    icd10_code = models.CharField(_("ICD-10 code"), max_length=16, blank=True)

    class Meta(RecordItem.Meta):
        verbose_name = _("family history")
        verbose_name_plural = _("family history")

    def __str__(self) -> str:
        return f"{self.get_relation_display()}: {self.condition}"

    @property
    def first_degree(self) -> bool:
        return self.relation in {
            self.Relation.FATHER,
            self.Relation.MOTHER,
            self.Relation.SIBLING,
            self.Relation.CHILD,
        }


class Allergy(RecordItem):
    """过敏史."""

    class Severity(models.TextChoices):
        MILD = "mild", _("mild")
        MODERATE = "moderate", _("moderate")
        SEVERE = "severe", _("severe")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="allergies")
    substance = models.CharField(_("substance"), max_length=100)
    reaction = models.CharField(_("reaction"), max_length=100, blank=True)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.MODERATE
    )

    class Meta(RecordItem.Meta):
        verbose_name = _("allergy")
        verbose_name_plural = _("allergies")

    def __str__(self) -> str:
        return self.substance


class Medication(RecordItem):
    """用药情况: a medicine the patient takes or took."""

    class Category(models.TextChoices):
        ANTIHYPERTENSIVE = "antihypertensive", _("blood pressure lowering")
        GLUCOSE_LOWERING = "glucose_lowering", _("glucose lowering")
        LIPID_LOWERING = "lipid_lowering", _("lipid lowering")
        OTHER = "other", _("other")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    name = models.CharField(_("medicine"), max_length=100)
    category = models.CharField(
        _("kind of medicine"),
        max_length=20,
        choices=Category.choices,
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "Blood pressure lowering medicines count in the cardiovascular and diabetes risk."
        ),
    )
    dose = models.CharField(_("dose"), max_length=50, blank=True, help_text=_("e.g. 5 mg"))
    frequency = models.CharField(
        _("frequency"), max_length=50, blank=True, help_text=_("e.g. once a day")
    )
    started_on = models.DateField(_("started on"), null=True, blank=True)
    stopped_on = models.DateField(_("stopped on"), null=True, blank=True)

    class Meta(RecordItem.Meta):
        verbose_name = _("medication")
        verbose_name_plural = _("medications")

    def __str__(self) -> str:
        return self.name

    @property
    def is_current(self) -> bool:
        return self.stopped_on is None or self.stopped_on >= timezone.localdate()


class Lifestyle(models.Model):
    """生活方式, as asked on the national follow-up forms (REFERENCE.md §1)."""

    class Smoking(models.TextChoices):
        NEVER = "never", _("never smoked")
        FORMER = "former", _("former smoker")
        CURRENT = "current", _("smokes")

    class Drinking(models.TextChoices):
        NEVER = "never", _("never")
        OCCASIONAL = "occasional", _("occasionally")
        OFTEN = "often", _("often")
        DAILY = "daily", _("every day")

    class Salt(models.TextChoices):
        LIGHT = "light", _("light")  # 轻
        MODERATE = "moderate", _("moderate")  # 中
        HEAVY = "heavy", _("heavy")  # 重

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="lifestyle")
    smoking = models.CharField(_("smoking"), max_length=10, choices=Smoking.choices, blank=True)
    cigarettes_per_day = models.PositiveSmallIntegerField(
        _("cigarettes a day"), null=True, blank=True
    )
    drinking = models.CharField(_("drinking"), max_length=12, choices=Drinking.choices, blank=True)
    alcohol_liang_per_day = models.DecimalField(
        _("spirits a day (liang)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    exercise_times_per_week = models.PositiveSmallIntegerField(
        _("exercise sessions a week"), null=True, blank=True
    )
    exercise_minutes = models.PositiveSmallIntegerField(
        _("minutes a session"), null=True, blank=True
    )
    salt_intake = models.CharField(
        _("salt intake"), max_length=10, choices=Salt.choices, blank=True
    )
    vegetables_fruit_daily = models.BooleanField(
        _("vegetables or fruit every day"), null=True, blank=True, db_default=None
    )
    diet = models.CharField(_("diet"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("lifestyle")
        verbose_name_plural = _("lifestyle")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
