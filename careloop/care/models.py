"""Personal health plans (with every version kept) and printed health reports (each copy
archived), and batch printing jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class HealthPlan(models.Model):
    """个人健康计划: advice sections drafted from the advice library, edited by the health
    manager, then finalised. Saving makes a new version; the earlier ones stay."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        FINAL = "final", _("final")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="health_plans"
    )
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    goals = models.TextField(_("goals"), blank=True)
    sections = models.JSONField(_("sections"), default=list)  # [{category, title, text}]
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(_("saved at"), default=timezone.now)

    class Meta:
        verbose_name = _("health plan")
        verbose_name_plural = _("health plans")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="health_plan_version")
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} v{self.version}"


class ReportBatch(models.Model):
    """Printing reports for a list of patients in the background, with progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    patient_ids = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    printed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    message = models.CharField(max_length=300, blank=True)
    archive = models.FileField(upload_to="reports/batches/%Y/%m/", blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("report batch")
        verbose_name_plural = _("report batches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.printed}/{self.total})"

    @property
    def percent(self) -> int:
        return round(100 * self.printed / self.total) if self.total else 100


class PrintedReport(models.Model):
    """One printed copy of a patient's health report, archived as it was printed."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="printed_reports"
    )
    file = models.FileField(upload_to="reports/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    pages = models.PositiveSmallIntegerField(default=0)
    batch = models.ForeignKey(
        ReportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    printed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("printed report")
        verbose_name_plural = _("printed reports")
        ordering = ["-printed_at", "-id"]

    def __str__(self) -> str:
        return f"report {self.pk} of {self.patient_id}"
