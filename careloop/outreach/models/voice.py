"""An automated call run step by step by the soft switch's IVR (FreeSWITCH ``mod_httapi``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class VoiceCall(models.Model):
    """Where one call of a message stands: the question being asked, the keys taken as
    answers so far, and how it ended. The answers become a QuestionnaireResponse only when
    the last question is answered; a call hung up half-way keeps them here."""

    class Status(models.TextChoices):
        ASKING = "asking", pgettext_lazy("voice call", "asking")
        ANSWERED = "answered", pgettext_lazy("voice call", "answered in full")
        GAVE_UP = "gave_up", pgettext_lazy("voice call", "no usable keys")
        HUNG_UP = "hung_up", pgettext_lazy("voice call", "hung up before the end")
        DONE = "done", pgettext_lazy("voice call", "message read")
        TRANSFERRED = "transferred", pgettext_lazy("voice call", "put through to staff")
        CALLBACK = "callback", pgettext_lazy("voice call", "asked to be called back")

    message = models.OneToOneField(
        "outreach.Message", on_delete=models.CASCADE, related_name="voice_call"
    )
    call_id = models.CharField(_("call id"), max_length=64, blank=True)
    questionnaire_version = models.ForeignKey(
        "questionnaires.QuestionnaireVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    step = models.CharField(_("asking"), max_length=120, blank=True)  # item key, or key/row
    tries = models.PositiveSmallIntegerField(default=0)
    answers = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.ASKING
    )
    response = models.ForeignKey(
        "questionnaires.QuestionnaireResponse",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField(_("answered at"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("automated call")
        verbose_name_plural = _("automated calls")

    def __str__(self) -> str:
        return f"{self.message_id} ({self.status})"
