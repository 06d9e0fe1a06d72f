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


class Programme(models.Model):
    """An intervention programme template (健康干预): goals on indicators, a duration,
    how often the patient checks in on their page, and education content."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    duration_days = models.PositiveSmallIntegerField(_("duration (days)"), default=90)
    checkin_every_days = models.PositiveSmallIntegerField(_("check in every (days)"), default=7)
    goals = models.JSONField(_("goals"), default=list)  # [{indicator, target, direction}]
    education = models.JSONField(_("education content"), default=list)  # [{title, text}]
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("intervention programme")
        verbose_name_plural = _("intervention programmes")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProgrammeEnrolment(models.Model):
    """A patient on a programme, with their own targets."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        COMPLETED = "completed", _("completed")
        STOPPED = "stopped", _("stopped")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="programmes"
    )
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="enrolments")
    goals = models.JSONField(_("goals"), default=list)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("programme enrolment")
        verbose_name_plural = _("programme enrolments")
        ordering = ["-starts_on", "-id"]

    def __str__(self) -> str:
        return f"{self.patient_id} · {self.programme_id}"


class StageSummary(models.Model):
    """健康阶段总结 for a period: the figures as generated (``content``) and the staff's own
    words; every save a new version, the last one final when finalised."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        FINAL = "final", _("final")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="stage_summaries"
    )
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    content = models.JSONField(_("figures"), default=dict)
    summary = models.TextField(_("summary"), blank=True)
    next_steps = models.TextField(_("next steps"), blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("stage summary")
        verbose_name_plural = _("stage summaries")
        ordering = ["-period_end", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "period_start", "period_end", "version"],
                name="stage_summary_version",
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.period_start}–{self.period_end} v{self.version}"


class Lecture(models.Model):
    """健康讲座: a health education lecture an organisation holds (in a room or online).
    Patients sign up on their pages or staff sign them up; attending earns points."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        CANCELLED = "cancelled", _("cancelled")

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="lectures"
    )
    title = models.CharField(_("title"), max_length=100)
    topic = models.CharField(_("topic"), max_length=40, blank=True)
    speaker = models.CharField(_("speaker"), max_length=60, blank=True)
    place = models.CharField(_("place"), max_length=200)
    starts_at = models.DateTimeField(_("starts at"))
    minutes = models.PositiveSmallIntegerField(_("length (minutes)"), default=60)
    capacity = models.PositiveIntegerField(_("seats"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    points = models.PositiveSmallIntegerField(_("points for attending"), default=10)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    cancel_reason = models.CharField(_("why cancelled"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("health lecture")
        verbose_name_plural = _("health lectures")
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["organisation", "starts_at"], name="lecture_org_start")]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d} {self.title}"


class LectureSeat(models.Model):
    """A patient signed up for a lecture (by themselves on their page, or by staff), and
    whether they came. A seat given up keeps its row (``cancelled_at``)."""

    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="seats")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="lecture_seats"
    )
    registered_at = models.DateTimeField(_("signed up"), default=timezone.now)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # None: the patient on their page
    cancelled_at = models.DateTimeField(_("gave up the seat"), null=True, blank=True)
    attended_at = models.DateTimeField(_("attended"), null=True, blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("lecture seat")
        verbose_name_plural = _("lecture seats")
        ordering = ["registered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["lecture", "patient"], name="lecture_seat_once")
        ]

    def __str__(self) -> str:
        return f"{self.lecture_id} · {self.patient_id}"
