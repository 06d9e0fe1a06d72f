"""Tags (标签) on patients, set by hand or by rules, with their history; tiers live on the
patient (``Patient.risk_tier``, ``Patient.value_tier``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.patients.models.patient import Patient


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PatientTag(models.Model):
    """A tag a patient has now; ``TagEvent`` keeps every addition and removal."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="patients")
    rule = models.ForeignKey(
        "rules.Rule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("patient tag")
        verbose_name_plural = _("patient tags")
        constraints = [
            models.UniqueConstraint(fields=["patient", "tag"], name="patient_tag_once"),
        ]
        indexes = [models.Index(fields=["tag", "patient"], name="patient_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.tag_id}"


class TagEvent(models.Model):
    class Action(models.TextChoices):
        ADDED = "added", _("added")
        REMOVED = "removed", _("removed")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="tag_events")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    firing = models.ForeignKey(
        "rules.RuleFiring", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("tag change")
        verbose_name_plural = _("tag changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "-at"], name="tag_event_patient")]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.action} {self.tag_id}"
