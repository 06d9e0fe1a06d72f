"""Rules (F12) as data: a condition and actions in the safe JSON language of
``rules.conditions`` / ``rules.actions``, versioned, and a record of every firing."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Trigger(models.TextChoices):
    OBSERVATION = "observation", _("result saved")
    ENCOUNTER = "encounter", _("admission or discharge")
    DIAGNOSIS = "diagnosis", _("diagnosis added")
    QUESTIONNAIRE = "questionnaire", _("questionnaire answered")
    REPLY = "reply", _("reply received")
    TASK_OUTCOME = "task_outcome", _("follow-up outcome")
    SWEEP = "sweep", _("scheduled sweep")
    RECORD = "record", _("patient record changed")


class Rule(models.Model):
    """The current version of a rule; every saved version is kept in ``RuleVersion``."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text=_("Empty: every organisation. Otherwise this one and those below it."),
    )
    trigger = models.CharField(_("runs when"), max_length=20, choices=Trigger.choices)
    condition = models.JSONField(_("condition"))
    actions = models.JSONField(_("actions"))
    enabled = models.BooleanField(_("enabled"), default=False)
    cooldown_hours = models.PositiveIntegerField(
        _("quiet period (hours)"),
        default=24,
        help_text=_("After firing for a patient, the rule does not fire again for them so soon."),
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class RuleVersion(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    condition = models.JSONField()
    actions = models.JSONField()
    cooldown_hours = models.PositiveIntegerField()
    enabled = models.BooleanField()
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("rule version")
        verbose_name_plural = _("rule versions")
        ordering = ["rule", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_version_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class RuleFiring(models.Model):
    """A rule matched a patient: the version, what it saw, why, and what it did."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    version = models.PositiveIntegerField()
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="rule_firings"
    )
    fired_at = models.DateTimeField(default=timezone.now)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    reasons = models.JSONField(default=list)
    seen = models.JSONField(default=dict)
    actions = models.JSONField(default=list)
    alert = models.ForeignKey(
        "followup.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("rule firing")
        verbose_name_plural = _("rule firings")
        ordering = ["-fired_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-fired_at"], name="firing_patient"),
            models.Index(fields=["rule", "patient", "-fired_at"], name="firing_rule_patient"),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} v{self.version} → patient {self.patient_id}"


class RiskAssessment(models.Model):
    """A clinical model's result for a patient (F6), computed from their record when an input
    changes; the latest per model is the current one, the earlier ones its history."""

    patient = models.ForeignKey(  # indexed by assessment_latest, which leads with it
        "patients.Patient",
        on_delete=models.CASCADE,
        related_name="risk_assessments",
        db_index=False,
    )
    model = models.CharField(_("model"), max_length=30)
    version = models.CharField(_("model version"), max_length=80)
    category = models.CharField(_("result"), max_length=50)
    inputs = models.JSONField(_("inputs"))
    result = models.JSONField(_("full result"))
    explanation = models.TextField(_("explanation"))
    assessed_at = models.DateTimeField(_("assessed at"), default=timezone.now)

    class Meta:
        verbose_name = _("risk assessment")
        verbose_name_plural = _("risk assessments")
        ordering = ["-assessed_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "model", "-assessed_at"], name="assessment_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.category}"

    @property
    def category_label(self) -> str:
        """The category as staff read it: the glucose model keeps codes (normal, IFG, IGT …,
        what rules and the CLI name), shown in words; the others are words already."""
        if self.model == "glucose":
            from careloop.rules.risk.glucose import LABELS

            return LABELS.get(self.category, self.category)
        if self.model == "findrisc":  # codes too (low … very_high): "slightly_elevated" showed
            from careloop.rules.risk.findrisc import CATEGORIES

            words = {code: f"{label}风险" for _lowest, code, label, _risk in CATEGORIES}
            return words.get(self.category, self.category)
        return self.category
