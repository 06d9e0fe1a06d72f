"""Plans (随访计划): a patient on a pathway version; their tasks (due follow-ups) and what
each attempt found (随访记录)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from careloop.followup.models.pathways import Pathway, PathwayVersion, Purpose


class Plan(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        COMPLETED = "completed", _("completed")
        STOPPED = "stopped", _("stopped")

    class StopReason(models.TextChoices):
        DECEASED = "deceased", _("deceased")
        OPTED_OUT = "opted_out", _("opted out")
        GOAL_MET = "goal_met", _("goal met")
        TRANSFERRED = "transferred", _("transferred")
        BY_STAFF = "by_staff", _("stopped by staff")
        SUPERSEDED = "superseded", _("replaced by a more specific pathway")
        # The stay that enrolled it was undone by the hospital (HL7 ADT^A13, ADT^A11).
        DISCHARGE_UNDONE = "discharge_undone", _("discharge cancelled")
        ADMISSION_CANCELLED = "admission_cancelled", _("admission cancelled")
        MERGED = "merged", _("patient records merged")

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="plans")
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    pathway = models.ForeignKey(Pathway, on_delete=models.PROTECT, related_name="plans")
    version = models.ForeignKey(PathwayVersion, on_delete=models.PROTECT, related_name="plans")
    trigger = models.CharField(_("trigger"), max_length=20)
    trigger_ref = models.CharField(_("what triggered it"), max_length=100, blank=True)
    reason = models.CharField(_("why"), max_length=300, blank=True)
    anchor = models.DateTimeField(_("counted from"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    stop_reason = models.CharField(
        _("stop reason"), max_length=20, choices=StopReason.choices, blank=True
    )
    # Per node: {"rev": n, "next": occurrence index not generated yet, "tiers": "high/low",
    # "next_due": ISO date (programme nodes)}.
    state = models.JSONField(default=dict)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("follow-up plan")
        verbose_name_plural = _("follow-up plans")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "pathway"],
                condition=Q(status="active"),
                name="plan_one_active_per_pathway",
            )
        ]
        indexes = [models.Index(fields=["status", "pathway"], name="plan_status_pathway")]

    def __str__(self) -> str:
        return f"{self.version.name} · {self.patient_id}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Outcome(models.TextChoices):
    REACHED = "reached", _("reached")
    NO_ANSWER = "no_answer", _("no answer")
    BUSY = "busy", _("busy")
    WRONG_NUMBER = "wrong_number", _("wrong number")
    REFUSED = "refused", _("refused")
    DECEASED = "deceased", _("deceased")


def channel_label(code: str) -> str:
    from careloop.patients.models import Channel

    return str(Channel(code).label) if code in Channel.values else code


class Task(models.Model):
    """One follow-up due for a patient (a node occurrence of a plan, or added by hand or a
    rule). Open until done, failed (every try and channel used up) or cancelled."""

    class Status(models.TextChoices):
        OPEN = "open", _("to do")
        DONE = "done", _("done")
        FAILED = "failed", _("not reached")
        CANCELLED = "cancelled", _("cancelled")

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="tasks")
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    node = models.CharField(_("node"), max_length=40, blank=True)
    revision = models.PositiveSmallIntegerField(default=0)
    occurrence = models.PositiveIntegerField(default=0)
    title = models.CharField(_("title"), max_length=200)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    channel = models.CharField(_("channel"), max_length=20)
    channels = models.JSONField(_("channel policy"), default=list)
    form = models.CharField(_("form"), max_length=30, blank=True)
    # The questionnaire the patient answers on their pages (a link goes with the message).
    questionnaire = models.CharField(
        _("questionnaire"), max_length=40, blank=True, default="", db_default=""
    )
    assignee_role = models.CharField(_("assignee role"), max_length=20, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    due_at = models.DateTimeField(_("due"))
    deadline = models.DateTimeField(_("latest"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    attempts = models.PositiveSmallIntegerField(_("tries on this channel"), default=0)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    cancel_reason = models.CharField(_("why cancelled"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        ordering = ["due_at", "id"]
        permissions = [("assign_task", _("Can assign follow-up tasks to others"))]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "node", "revision", "occurrence"],
                condition=Q(plan__isnull=False),
                name="task_unique_occurrence",
            )
        ]
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_due"),
            models.Index(fields=["team", "status", "due_at"], name="task_team_due"),
            models.Index(fields=["organisation", "status", "due_at"], name="task_org_due"),
            models.Index(fields=["patient", "status"], name="task_patient_status"),
            # Open tasks in due order: the dispatch job takes the first due ones batch after
            # batch without sorting every open task each time.
            models.Index(fields=["due_at", "id"], condition=Q(status="open"), name="task_open_due"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.patient_id})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.deadline < timezone.now()


# The national follow-up classifications, stored as the Chinese words (rules, reports and the
# next visit read them); shown in the reader's language.
CLASSIFICATION_LABELS = {
    "控制满意": pgettext_lazy("follow-up classification", "controlled"),
    "控制不满意": pgettext_lazy("follow-up classification", "not controlled"),
    "不良反应": pgettext_lazy("follow-up classification", "adverse drug reaction"),
    "并发症": pgettext_lazy("follow-up classification", "complication"),
}


def classification_label(value: str) -> str:
    return str(CLASSIFICATION_LABELS.get(value, value))


class FollowUpRecord(models.Model):
    """One attempt at a task (随访记录): how, with what outcome, what the form found."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="records")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="followup_records"
    )
    channel = models.CharField(_("channel"), max_length=20)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    form = models.CharField(_("form"), max_length=30, blank=True)
    answers = models.JSONField(_("form answers"), default=dict, blank=True)
    classification = models.CharField(_("classification"), max_length=20, blank=True)
    assessment = models.JSONField(default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    recording = models.FileField(_("call recording"), upload_to="recordings/%Y/%m/", blank=True)
    recording_type = models.CharField(max_length=20, blank=True)
    call_id = models.CharField(_("call id"), max_length=64, blank=True)
    # The API caller's Idempotency-Key: the same request sent again (a retry after a
    # timeout) is answered with this record instead of recording the attempt twice.
    # db_default: rows inserted in bulk without it (the dispatcher's), and by processes of the
    # version before it during an upgrade.
    request_key = models.CharField(
        _("request key"), max_length=64, blank=True, default="", db_default=""
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("follow-up record")
        verbose_name_plural = _("follow-up records")
        permissions = [("play_recording", _("Can play call recordings"))]
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "-at"], name="record_patient_at")]
        constraints = [
            models.UniqueConstraint(
                fields=["call_id"], condition=~Q(call_id=""), name="record_unique_call"
            ),
            models.UniqueConstraint(
                fields=["task", "request_key"],
                condition=~Q(request_key=""),
                name="record_unique_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} · {self.at:%Y-%m-%d}"

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def classification_label(self) -> str:
        return classification_label(self.classification)


class TaskNote(models.Model):
    """A note on a follow-up task, added after or between attempts (next step "add a note")."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField(_("note"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("task note")
        verbose_name_plural = _("task notes")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.text[:40]
