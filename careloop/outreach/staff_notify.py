"""Telling staff: a notification for each alert whose owner has not been told yet (a new
alert, an assignment, an escalation: ``Alert.notified_assignee_id`` differs from the
assignee), and delivery on WeCom of those waiting. Run by the dispatch job every minute;
nothing here runs inside the transactions that raise alerts."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import translation

from careloop.accounts.models import User
from careloop.followup.models import Alert
from careloop.outreach.config import channel_config, transport_for
from careloop.outreach.models import StaffNotification
from careloop.outreach.transports import ConfigError, Outgoing, TransportError

log = logging.getLogger(__name__)
OPEN = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED, Alert.Status.IN_PROGRESS)
D = StaffNotification.Delivery
NOT_TOLD = Q(notified_assignee_id__isnull=True) | ~Q(notified_assignee_id=F("assignee_id"))


def _delivery(user: User) -> str:
    if not user.wecom_userid or user.organisation_id is None:
        return D.IN_APP
    if channel_config(user.organisation_id, "wecom").provider == "outbox":
        return D.IN_APP
    return D.QUEUED


def notify(user: User, title: str, body: str, link: str = "", alert: Alert | None = None) -> Any:
    return StaffNotification.objects.create(
        user=user, alert=alert, title=title[:200], body=body, link=link, delivery=_delivery(user)
    )


def notify_new_owners(batch: int = 500) -> int:
    """A notification to the owner of every open alert not told yet; returns how many."""
    told = 0
    with transaction.atomic():
        alerts = list(
            Alert.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN, assignee__isnull=False)
            .filter(
                Q(notified_assignee_id__isnull=True) | ~Q(notified_assignee_id=F("assignee_id"))
            )
            .select_related("assignee", "patient")
            .order_by("id")[:batch]
        )
        for alert in alerts:
            assert alert.assignee is not None
            # stored words: in the site's language, whatever a job's thread last served
            with translation.override(settings.LANGUAGE_CODE):
                severity = alert.get_severity_display()
            notify(
                alert.assignee,
                f"{severity}预警：{alert.title}",
                f"{alert.patient.name}：{alert.reason[:300]}",
                reverse("alerts:detail", args=[alert.pk]),
                alert,
            )
            told += 1
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(
            notified_assignee_id=F("assignee_id")
        )
    return told


def deliver(batch: int = 200) -> int:
    """Send the waiting WeCom notifications; returns how many went out."""
    waiting = list(
        StaffNotification.objects.filter(delivery=D.QUEUED)
        .select_related("user", "alert")
        .order_by("id")[:batch]
    )
    sent = 0
    transports: dict[int, Any] = {}
    for item in waiting:
        # Claimed first, so two workers never send one notification twice.
        if not StaffNotification.objects.filter(pk=item.pk, delivery=D.QUEUED).update(
            delivery=D.SENDING
        ):
            continue
        user = item.user
        try:
            organisation = user.organisation_id or 0
            if organisation not in transports:  # one per organisation: one token fetch
                transports[organisation] = transport_for(channel_config(organisation, "wecom"))
            transport = transports[organisation]
            # No patient details leave CareLoop: the title of the alert kind and a link.
            severity = item.alert.get_severity_display() if item.alert else ""
            text = (
                f"CareLoop：您有一条新的{severity}提醒，请登录查看。" if item.alert else item.title
            )
            transport.send(
                Outgoing(
                    key=f"staff:{item.pk}",
                    to=user.wecom_userid,
                    text=text,
                    link=settings.CARELOOP_PUBLIC_URL + item.link if item.link else "",
                )
            )
        except (TransportError, ConfigError) as error:
            item.delivery, item.error = D.FAILED, str(error)[:300]
            log.warning("staff notification %s not delivered: %s", item.pk, type(error).__name__)
        else:
            item.delivery, item.error = D.SENT, ""
            sent += 1
        item.save(update_fields=["delivery", "error"])
    return sent
