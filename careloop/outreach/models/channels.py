"""How an organisation reaches patients: a provider per channel with its settings and
encrypted secrets, message templates, and patients' addresses on channels that are not
their phone (WeChat openid, WeCom UserID, e-mail, app id)."""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.fields import BlindIndexField, EncryptedTextField
from careloop.followup.models.pathways import Purpose
from careloop.patients.models import Channel

AUTOMATED = [
    (c.value, c.label)
    for c in (Channel.SMS, Channel.WECHAT, Channel.WECOM, Channel.VOICE, Channel.EMAIL, Channel.APP)
]


class ChannelConfig(models.Model):
    """The provider an organisation sends a channel's messages through. No row for a
    channel (and none platform-wide, organisation empty) = the built-in outbox."""

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: every organisation without its own setting."),
    )
    channel = models.CharField(_("channel"), max_length=20, choices=AUTOMATED)
    provider = models.CharField(_("provider"), max_length=20)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    secrets = EncryptedTextField(_("secrets"), blank=True, default="")
    weekly_cap = models.PositiveSmallIntegerField(_("messages per patient per week"), default=3)
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("channel setting")
        verbose_name_plural = _("channel settings")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "channel"], name="channel_per_org"),
            models.UniqueConstraint(
                fields=["channel"], condition=Q(organisation__isnull=True), name="channel_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.provider}"

    def secret_values(self) -> dict[str, str]:
        return json.loads(self.secrets) if self.secrets else {}

    def set_secrets(self, values: dict[str, Any]) -> None:
        self.secrets = json.dumps({k: str(v) for k, v in values.items() if v})


# A follow-up's purposes, and the automatic answer to a common question (its text holds
# {{ answer }}).
FAQ_ANSWER = "faq_answer"
LECTURE_INVITE = "lecture_invite"
TEMPLATE_PURPOSES = [
    *Purpose.choices,
    (FAQ_ANSWER, _("answer to a common question")),
    (LECTURE_INVITE, _("health lecture invitation")),
]


class MessageTemplate(models.Model):
    """The words of a message for a purpose on a channel (Django template language with the
    patient's variables). SMS and WeChat providers send only templates they approved: such a
    template carries the provider's template code and the parameters it fills, and is not
    sent until marked approved."""

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=TEMPLATE_PURPOSES)
    channel = models.CharField(_("channel"), max_length=20, choices=AUTOMATED)
    name = models.CharField(_("name"), max_length=100)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    provider_template = models.CharField(_("provider template code"), max_length=64, blank=True)
    params = models.JSONField(
        _("template parameters"),
        default=dict,
        blank=True,
        help_text=_('Parameter name → template text, e.g. {"name": "{{ salutation }}"}.'),
    )
    keys = models.JSONField(
        _("keypad answers"),
        default=dict,
        blank=True,
        help_text=_('Voice calls: digit → answer, e.g. {"1": "fine", "2": "unwell"}.'),
    )
    approved = models.BooleanField(_("approved by the provider"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "purpose", "channel"], name="template_per_purpose"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ChannelAddress(models.Model):
    """Where a patient is on a channel other than their phone: a WeChat openid (bound when
    they follow the account), a WeCom UserID, an e-mail address, an app's user id."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="channel_addresses"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=AUTOMATED)
    address = EncryptedTextField(_("address"))
    address_hash = BlindIndexField(
        source="address", normaliser="careloop.outreach.models.channels.normalise_address"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("channel address")
        verbose_name_plural = _("channel addresses")
        constraints = [
            models.UniqueConstraint(fields=["channel", "address_hash"], name="address_once"),
            models.UniqueConstraint(fields=["patient", "channel"], name="address_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} ({self.patient_id})"


def normalise_address(value: str) -> str:
    return value.strip().lower() if "@" in value else value.strip()


class AccessToken(models.Model):
    """A provider's access token shared by every worker (WeChat allows few fetches a day)."""

    name = models.CharField(max_length=100, unique=True)
    token = EncryptedTextField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
