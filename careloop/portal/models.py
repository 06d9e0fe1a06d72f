"""What happens on the patient pages: link opens, page views, identity checks (for the rate
limit), and points earned."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PortalEvent(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", _("link opened")
        VIEW = "view", _("page viewed")
        CHECK_FAILED = "check_failed", _("identity check failed")
        CHECK_PASSED = "check_passed", _("identity check passed")
        READING = "reading", _("reading uploaded")
        QUESTIONNAIRE = "questionnaire", _("questionnaire answered")
        REVISIT = "revisit", _("revisit requested")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="portal_events"
    )
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    page = models.CharField(_("page"), max_length=40, blank=True)
    link = models.CharField(_("link fingerprint"), max_length=32, db_index=True)
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("patient page event")
        verbose_name_plural = _("patient page events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "kind", "-at"], name="portal_patient_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class PointsEntry(models.Model):
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="points")
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=100)
    at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("points")
        verbose_name_plural = _("points")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.points:+d} {self.reason}"


class Redemption(models.Model):
    """A patient asks to exchange points (for a gift or a service the organisation offers);
    staff approve (the points are then spent) or decline."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        APPROVED = "approved", _("approved")
        DECLINED = "declined", _("declined")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="redemptions"
    )
    points = models.PositiveIntegerField(_("points"))
    item = models.CharField(_("for"), max_length=100)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("points redemption")
        verbose_name_plural = _("points redemptions")
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.points} → {self.item} ({self.status})"
