"""Outbound webhooks (F17): an integrator's address told of what happens here (an alert
raised or moved, a follow-up done), each event signed and delivered until it is accepted."""

from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.fields import EncryptedTextField

# The events an endpoint may listen to, with what they mean (docs/webhooks.md).
EVENTS = {
    "alert.created": _("an alert is raised"),
    "alert.updated": _(
        "an alert moves on (acknowledged, in progress, resolved, verified, "
        "reassigned, escalated, a note)"
    ),
    "task.completed": _("a follow-up task is done"),
}
PING = "ping"  # a test event an administrator sends to check the endpoint


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def check_events(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one event."))
    unknown = [str(name) for name in value if name not in EVENTS]
    if unknown:
        raise ValidationError(
            _("Unknown events: %(names)s. Known: %(known)s.")
            % {"names": ", ".join(unknown), "known": ", ".join(EVENTS)}
        )


class WebhookEndpoint(models.Model):
    """Where events of an organisation (and those below it) are sent; without an
    organisation, the events of every organisation (set up by a superuser)."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(
        _("address"),
        max_length=500,
        help_text=_("HTTPS or HTTP address that receives a POST of JSON for each event"),
        validators=[URLValidator(schemes=["http", "https"])],
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text=_("its events and those of the organisations below it; empty: every one"),
    )
    events = models.JSONField(_("events"), default=list, validators=[check_events])
    secret = EncryptedTextField(
        _("signing secret"),
        default=new_secret,
        help_text=_(
            "the receiver checks X-CareLoop-Signature: sha256= HMAC-SHA256 of "
            "timestamp + '.' + body with this secret"
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event for one endpoint: stored with the change that caused it (none is lost),
    sent by the worker, tried again with backoff until the endpoint answers 2xx."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be delivered")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("given up")

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("webhook endpoint"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event = models.CharField(_("event"), max_length=30)
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, editable=False)
    # What an event must be told once per endpoint ("task.completed:<task id>"); "" for
    # events that may repeat (each step of an alert's life is one of its own).
    key = models.CharField(max_length=80, blank=True, default="", db_default="", editable=False)
    payload = models.JSONField(_("content"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("tries"), default=0)
    # When it is tried next; a worker sending it moves this on by its lease, so a worker
    # stopped mid-send leaves it to be sent again, not lost.
    next_attempt_at = models.DateTimeField(_("next try"), default=timezone.now)
    claimed_by = models.CharField(max_length=40, blank=True, editable=False)
    last_status = models.PositiveSmallIntegerField(_("last answer (HTTP)"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_pending_due",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_event_once"),
            models.UniqueConstraint(
                fields=["endpoint", "key"],
                condition=~models.Q(key=""),
                name="webhook_event_key_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"
