"""Messages sent to patients and the replies that come back."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from careloop.fields import EncryptedTextField
from careloop.followup.models.plans import channel_label


class Message(models.Model):
    """One message to one patient. Its ``key`` is unique (task, channel, try): a message is
    created once however often the dispatcher runs, and sent at most once per try — a worker
    claims it with a lease, and a message whose worker died mid-send is sent again with the
    same key, which the provider uses to drop the repeat.

    queued → sending → sent → delivered, or failed; cancelled when it must not go out
    (no consent, opted out, task closed)."""

    # Why a queued message was cancelled: stored as written (the API and exports show it),
    # shown translated (``error_shown``).
    OPTED_OUT = "患者已退订该渠道"
    TASK_CLOSED = "随访任务已结束，不再发送"

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("message status", "queued")
        SENDING = "sending", pgettext_lazy("message status", "sending")
        SENT = "sent", pgettext_lazy("message status", "sent")
        DELIVERED = "delivered", pgettext_lazy("message status", "delivered")
        FAILED = "failed", pgettext_lazy("message status", "failed")
        CANCELLED = "cancelled", pgettext_lazy("message status", "cancelled")

    # No index of their own: "message_org_created" and "message_patient_sent" begin with
    # them. A message changes state twice after it is stored, and each change writes every
    # index of the row again (the state is indexed), so none is kept twice.
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    task = models.ForeignKey(
        "followup.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    key = models.CharField(_("idempotency key"), max_length=100)  # unique: see Meta
    channel = models.CharField(_("channel"), max_length=20)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    purpose = models.CharField(_("purpose"), max_length=20, blank=True)
    to = EncryptedTextField(_("recipient"), blank=True, default="")
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    template_code = models.CharField(max_length=64, blank=True)
    params = models.JSONField(default=dict, blank=True)
    keys = models.JSONField(default=dict, blank=True)
    link = models.CharField(max_length=500, blank=True)

    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    next_try_at = models.DateTimeField(_("next try"), default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=64, blank=True)
    provider_id = models.CharField(_("provider's id"), max_length=100, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_try_at"], name="message_due"),
            models.Index(fields=["provider", "provider_id"], name="message_provider_id"),
            models.Index(fields=["patient", "sent_at"], name="message_patient_sent"),
            models.Index(fields=["organisation", "-created_at"], name="message_org_created"),
        ]
        # A constraint rather than ``unique=True``: on PostgreSQL that would add a second
        # index on the key, for LIKE searches, which nothing makes.
        constraints = [models.UniqueConstraint(fields=["key"], name="message_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def provider_label(self) -> str:
        """The provider as the channel settings name it (站内发件箱, not "outbox")."""
        from careloop.outreach.transports import TRANSPORTS

        found = TRANSPORTS.get(self.provider)
        return str(found.label) if found is not None else self.provider

    @property
    def error_shown(self) -> str:
        """``error`` in the user's language when it is one of CareLoop's own reasons."""
        if self.error == self.OPTED_OUT:
            return str(_("The patient opted out of this channel"))
        if self.error == self.TASK_CLOSED:
            return str(_("The follow-up was closed; not sent"))
        return self.error


class Reply(models.Model):
    """Something a patient sent back (SMS, WeChat, keypad), stored as received before it is
    read. Matched to the patient by their address and to their latest open follow-up;
    what cannot be matched or understood waits in the staff inbox."""

    class Kind(models.TextChoices):
        ANSWER = "answer", _("answer")
        OPT_OUT = "opt_out", _("opt-out")
        UNMATCHED = "unmatched", _("sender not recognised")
        UNCLEAR = "unclear", _("needs reading")
        FAQ = "faq", _("answered from the knowledge base")

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    task = models.ForeignKey(
        "followup.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    channel = models.CharField(_("channel"), max_length=20)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    sender = EncryptedTextField(_("from"), blank=True, default="")
    text = models.TextField(_("text"), blank=True)
    raw = models.TextField(_("as received"), blank=True)
    external_id = models.CharField(_("provider's id"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, blank=True)
    symptoms = models.JSONField(_("symptoms"), default=list, blank=True)
    negated = models.JSONField(_("said absent"), default=list, blank=True)
    alert = models.ForeignKey(
        "followup.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The closest common question (answered with it when kind is "faq"; else a suggestion
    # for the staff reading it) and how close, 0–1.
    faq = models.ForeignKey(
        "outreach.FaqEntry",
        verbose_name=_("common question"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
    )
    faq_score = models.FloatField(null=True, blank=True)
    # A draft answer from the hospital's language model (outreach.assistant), for staff.
    draft_answer = models.TextField(_("draft answer"), blank=True)
    answer_message = models.ForeignKey(
        "outreach.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["kind", "handled_at"], name="reply_inbox")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"],
                condition=~models.Q(external_id=""),
                name="reply_once_per_provider_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.received_at:%Y-%m-%d %H:%M}"

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def needs_reading(self) -> bool:
        return self.handled_at is None and self.kind in (self.Kind.UNMATCHED, self.Kind.UNCLEAR)
