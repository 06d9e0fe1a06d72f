"""Alerts (预警): something that needs a human, open until handled and verified."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Alert(models.Model):
    """Something that needs a human: it stays open until someone has handled it
    (发现—反馈—处理—跟踪). ``reason`` says in plain Chinese why it was raised."""

    class Kind(models.TextChoices):
        CRITICAL_VALUE = "critical_value", _("critical value")
        RULE = "rule", _("rule")
        REPLY = "reply", _("patient reply")
        QUESTIONNAIRE = "questionnaire", _("questionnaire answer")
        MISSED_REVISIT = "missed_revisit", _("missed revisit")
        OVERDUE_TASK = "overdue_task", _("overdue follow-up")
        LOW_SATISFACTION = "low_satisfaction", _("low satisfaction")
        FOLLOWUP = "followup", _("follow-up finding")
        MANUAL = "manual", _("raised by staff")

    class Severity(models.TextChoices):
        CRITICAL = "critical", _("critical")
        HIGH = "high", _("high")
        MEDIUM = "medium", _("medium")
        LOW = "low", _("low")

    class Resolution(models.TextChoices):
        HANDLED = "handled", _("patient contacted and handled")
        DOCTOR_NOTIFIED = "doctor_notified", _("doctor notified")
        REVISIT_BOOKED = "revisit_booked", _("revisit booked")
        REFERRED = "referred", _("referred")
        EMERGENCY = "emergency", _("sent to emergency care")
        UNREACHABLE = "unreachable", _("patient could not be reached")
        NO_ACTION = "no_action", _("no action needed (false alarm)")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("alert status", "open")
        ACKNOWLEDGED = "acknowledged", pgettext_lazy("alert status", "acknowledged")
        IN_PROGRESS = "in_progress", pgettext_lazy("alert status", "in progress")
        RESOLVED = "resolved", pgettext_lazy("alert status", "resolved")
        VERIFIED = "verified", pgettext_lazy("alert status", "verified")

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="alerts")
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="alerts"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.OPEN
    )
    title = models.CharField(_("title"), max_length=200)
    reason = models.TextField(_("why"))
    details = models.JSONField(_("details"), default=dict, blank=True)
    observation = models.ForeignKey(
        "clinical.Observation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    # Whom the staff notification went to: a new owner (new alert, assigned, escalated)
    # differs, and the next notification round tells them.
    notified_assignee_id = models.BigIntegerField(null=True, blank=True, editable=False)
    due_at = models.DateTimeField(_("respond by"), null=True, blank=True)
    task = models.ForeignKey(
        "followup.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    resolution = models.CharField(
        _("resolution"), max_length=20, choices=Resolution.choices, blank=True
    )
    outcome = models.TextField(_("how it ended"), blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("escalations"), default=0)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    created_at = models.DateTimeField(_("raised at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-id"]
        permissions = [("verify_alert", _("Can verify a resolved alert"))]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "kind"],
                condition=models.Q(kind="overdue_task"),
                name="alert_one_overdue_per_task",
            )
        ]
        indexes = [
            models.Index(fields=["patient", "status"], name="alert_patient_status"),
            models.Index(fields=["organisation", "status", "-created_at"], name="alert_org_status"),
            models.Index(fields=["status", "due_at"], name="alert_status_due"),
            models.Index(fields=["assignee", "status"], name="alert_assignee_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.RESOLVED, self.Status.VERIFIED)

    @property
    def is_late(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()


OPEN_STATUSES = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED, Alert.Status.IN_PROGRESS)


EVENT_LABELS = {
    "raise": _("raised"),
    "acknowledge": _("acknowledged"),
    "start": _("started handling"),
    "resolve": pgettext_lazy("alert status", "resolved"),
    "verify": _("verified"),
    "reopen": _("sent back"),
    "assign": _("reassigned"),
    "note": _("note"),
    "escalate": _("escalated"),
}


class AlertEvent(models.Model):
    """One step of an alert's life: who moved it from what to what, when, and why."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=20)
    from_status = models.CharField(max_length=15, blank=True)
    to_status = models.CharField(max_length=15, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status}→{self.to_status}"

    @property
    def action_label(self) -> str:
        return str(EVENT_LABELS.get(self.action, self.action))

    @property
    def note_shown(self) -> str:
        """The note in the reader's language when the system wrote it (an escalation, a
        hand-over); as typed otherwise."""
        from careloop.system_texts import shown

        return shown(self.note)

    @property
    def status_change(self) -> str:
        """ "已确认 → 处理中" when the step moved the alert, else empty."""
        if not self.from_status or self.from_status == self.to_status:
            return ""
        labels = dict(Alert.Status.choices)
        return f"{labels.get(self.from_status)} → {labels.get(self.to_status)}"
