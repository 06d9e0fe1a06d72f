"""Consent (知情同意) per purpose and channel, and sharing with other organisations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.patients.models.patient import Channel, Patient


class ConsentRecord(models.Model):
    """One consent given or withdrawn. Records are never edited: the latest record for a
    purpose and channel is the patient's current answer, the earlier ones its history (PIPL).
    """

    class Purpose(models.TextChoices):
        FOLLOWUP = "followup", _("follow-up")  # 随访
        EDUCATION = "education", _("health education")  # 健康宣教
        RESEARCH = "research", _("research")  # 科研
        MARKETING = "marketing", _("service offers")  # 服务推广

    class Method(models.TextChoices):
        WRITTEN = "written", _("written form")
        VERBAL = "verbal", _("verbal, recorded by staff")
        ELECTRONIC = "electronic", _("electronic")
        REPLY = "reply", _("patient reply")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    granted = models.BooleanField(_("granted"))
    method = models.CharField(
        _("how it was given"), max_length=20, choices=Method.choices, default=Method.WRITTEN
    )
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
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["patient", "purpose", "channel", "-recorded_at"], name="consent_latest"
            )
        ]

    def __str__(self) -> str:
        state = _("granted") if self.granted else _("withdrawn")
        return f"{self.get_purpose_display()} / {self.get_channel_display()}: {state}"


class PatientShare(models.Model):
    """A patient shared with an organisation outside its own subtree (e.g. a referral to a
    community centre), so that organisation's staff can see, and optionally edit, the record.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="shares")
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.CASCADE,
        related_name="shared_patients",
    )
    can_edit = models.BooleanField(_("may edit"), default=False)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    shared_at = models.DateTimeField(_("shared at"), default=timezone.now)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("shared by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("patient share")
        verbose_name_plural = _("patient shares")
        constraints = [
            models.UniqueConstraint(fields=["patient", "organisation"], name="share_unique")
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} → {self.organisation}"

    @property
    def reason_shown(self) -> str:
        """The reason in the reader's language when the system wrote it (a referral); as
        typed otherwise."""
        from careloop.system_texts import shown

        return shown(self.reason)
