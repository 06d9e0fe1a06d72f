"""Hand-offs between tiers (hospital ↔ community centre ↔ family-doctor team) and revisit
requests booked from a follow-up."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Referral(models.Model):
    """转诊/移交: one organisation asks another to take a patient on, with a reason; the
    receiving side accepts or declines. Both sides see the history."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for the receiving team")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")
        CANCELLED = "cancelled", _("withdrawn")

    class Urgency(models.TextChoices):
        ROUTINE = "routine", _("routine")
        URGENT = "urgent", _("urgent")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="referrals"
    )
    from_organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("from"),
        on_delete=models.PROTECT,
        related_name="referrals_out",
    )
    to_organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("to"),
        on_delete=models.PROTECT,
        related_name="referrals_in",
    )
    reason = models.TextField(_("reason"))
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE
    )
    transfer = models.BooleanField(
        _("hand over follow-up"),
        default=False,
        help_text=_("On acceptance the receiving organisation takes over the patient."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    task = models.ForeignKey(
        "followup.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The referral shared the record with the receiving side so they could decide.
    shared = models.BooleanField(default=False, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("answer"), blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["to_organisation", "status"], name="referral_to_status"),
            models.Index(fields=["from_organisation", "status"], name="referral_from_status"),
        ]

    def __str__(self) -> str:
        return f"{self.from_organisation_id}→{self.to_organisation_id} {self.status}"


class RevisitRequest(models.Model):
    """复诊预约申请: asked for during a follow-up, booked by a coordinator; a booked revisit
    the patient does not come to raises a missed-revisit alert. A patient may also ask for a
    consultation (咨询): a doctor's time to answer their questions, booked the same way, by
    telephone or in person, so not checked against visits. Or a health exam (体检) of a
    package from the organisation's catalogue, attended when an exam visit or report of the
    patient's follows the request."""

    class Kind(models.TextChoices):
        REVISIT = "revisit", pgettext_lazy("booking", "revisit")
        CONSULTATION = "consultation", pgettext_lazy("booking", "consultation")
        EXAM = "exam", pgettext_lazy("booking", "health exam")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        BOOKED = "booked", _("booked")
        ATTENDED = "attended", _("attended")
        MISSED = "missed", _("missed")
        CANCELLED = "cancelled", _("cancelled")

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="revisit_requests"
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    task = models.ForeignKey(
        "followup.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(
        pgettext_lazy("booking", "kind"), max_length=12, choices=Kind.choices, default=Kind.REVISIT
    )
    department = models.CharField(_("department"), max_length=100, blank=True)
    package = models.ForeignKey(
        "followup.ExamPackage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("exam package"),
    )
    wanted_on = models.DateField(_("wanted on"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED
    )
    appointment_at = models.DateTimeField(_("appointment"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("revisit request")
        verbose_name_plural = _("revisit requests")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["status", "appointment_at"], name="revisit_status_at"),
            models.Index(fields=["organisation", "status"], name="revisit_org_status"),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.wanted_on} {self.status}"
