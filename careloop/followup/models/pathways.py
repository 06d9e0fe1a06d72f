"""Pathway templates (随访路径): a trigger and nodes, versioned — a running plan keeps the
version it started with. The definition is checked JSON (see ``followup/definition.py``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Purpose(models.TextChoices):
    """What a follow-up is for, named in the page's language."""

    CONDITION_TRACKING = "condition_tracking", _("condition tracking")  # 病情跟踪
    REHAB_GUIDANCE = "rehab_guidance", _("rehabilitation guidance")  # 康复指导
    REVISIT_REMINDER = "revisit_reminder", _("revisit reminder")  # 复诊提醒
    EMOTIONAL_CARE = "emotional_care", _("emotional care")  # 情感关怀
    SATISFACTION = "satisfaction", _("satisfaction")  # 满意度


class TriggerKind(models.TextChoices):
    DISCHARGE = "discharge", _("discharge with a diagnosis")
    ABNORMAL = "abnormal", _("abnormal exam result")
    DIAGNOSIS = "diagnosis", _("new diagnosis")
    RULE = "rule", _("rule action")
    PROGRAMME = "programme", _("programme enrolment")
    MANUAL = "manual", _("manual")


class Pathway(models.Model):
    """The current version of a pathway; every saved version is kept in ``PathwayVersion``."""

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
    trigger = models.CharField(_("trigger"), max_length=20, choices=TriggerKind.choices)
    definition = models.JSONField(_("definition"))
    enabled = models.BooleanField(_("enabled"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("pathway")
        verbose_name_plural = _("pathways")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class PathwayVersion(models.Model):
    pathway = models.ForeignKey(Pathway, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=200)
    trigger = models.CharField(_("trigger"), max_length=20, choices=TriggerKind.choices)
    definition = models.JSONField(_("definition"))
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("saved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    saved_at = models.DateTimeField(_("saved at"), default=timezone.now)
    note = models.CharField(_("what changed"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("pathway version")
        verbose_name_plural = _("pathway versions")
        ordering = ["pathway", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["pathway", "version"], name="pathway_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Holiday(models.Model):
    """A day off (法定节假日) that follow-up due dates skip; for every organisation unless
    one is named."""

    day = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=50)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
    )

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["day", "organisation"], name="holiday_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.name}"
