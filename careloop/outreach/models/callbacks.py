"""What providers push to us, stored (encrypted: it holds phone numbers) before it is read."""

from __future__ import annotations

import base64

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.fields import EncryptedTextField


class ProviderCallback(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("received, waiting")
        PROCESSED = "processed", _("processed")
        FAILED = "failed", _("failed")
        REJECTED = "rejected", _("rejected")

    config = models.ForeignKey(
        "outreach.ChannelConfig", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider = models.CharField(_("provider"), max_length=20)
    kind = models.CharField(_("kind"), max_length=10)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    body = EncryptedTextField(_("as received"), blank=True, default="")  # base64 of the bytes
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED
    )
    error = models.CharField(_("error"), max_length=300, blank=True)
    reports = models.PositiveIntegerField(_("delivery reports"), default=0)
    replies = models.PositiveIntegerField(_("replies"), default=0)

    class Meta:
        verbose_name = _("provider callback")
        verbose_name_plural = _("provider callbacks")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.received_at:%Y-%m-%d %H:%M:%S}"

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.body)

    @staticmethod
    def encode(body: bytes) -> str:
        return base64.b64encode(body).decode()
