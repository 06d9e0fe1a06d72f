"""What must hold before a message goes out: consent for the channel and purpose (an
opt-out is a withdrawn consent), an address, outside the patient's quiet hours, and under
the channel's weekly cap per patient."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from careloop.fields import sealed
from careloop.followup.schedule import in_quiet
from careloop.outreach.models import ChannelAddress, Message
from careloop.outreach.models.channels import FAQ_ANSWER
from careloop.patients.models import ConsentRecord

SENT = (Message.Status.SENDING, Message.Status.SENT, Message.Status.DELIVERED)
WEEK = timedelta(days=7)
# Every follow-up purpose is covered by consent to be followed up on that channel.
CONSENT_PURPOSE = ConsentRecord.Purpose.FOLLOWUP


def consents(
    patient_ids: list[int], channel: str, purpose: str = CONSENT_PURPOSE
) -> dict[int, bool]:
    """Each patient's current answer for ``purpose`` (follow-up unless said) on ``channel``
    (absent = never asked)."""
    latest: dict[int, bool] = {}
    rows = (
        ConsentRecord.objects.filter(
            patient_id__any_of=patient_ids, purpose=purpose, channel=channel
        )
        .order_by("patient_id", "recorded_at", "id")
        .values_list("patient_id", "granted")
    )
    for patient_id, granted in rows:
        latest[patient_id] = granted
    return latest


def sealed_addresses(tasks: list[Any], channel: str) -> dict[int, str]:
    """patient → their address on ``channel``, sealed (encrypted as stored): the phone for
    SMS and voice (``tasks`` carry it, ``queueing.Due``), else the channel's own address."""
    if channel in ("sms", "voice"):
        return {t.patient_id: t.sealed_phone for t in tasks if t.sealed_phone}
    rows = (
        ChannelAddress.objects.filter(
            patient_id__any_of={t.patient_id for t in tasks}, channel=channel
        )
        .annotate(sealed_address=sealed("address"))
        .values_list("patient_id", "sealed_address")
    )
    return {patient_id: address for patient_id, address in rows if address}


def sent_this_week(patient_ids: list[int], channel: str, now: datetime) -> dict[int, tuple]:
    """patient → (messages in the last 7 days on ``channel``, when the oldest went). Answers
    to the patient's own questions (the knowledge base's or staff's) are not counted: asked
    for, they must not hold back the follow-up."""
    rows = (
        Message.objects.filter(
            patient_id__any_of=patient_ids, channel=channel, status__in=SENT, sent_at__gt=now - WEEK
        )
        .exclude(purpose=FAQ_ANSWER)
        .values("patient_id")
        .annotate(n=Count("id"), first=Min("sent_at"))
    )
    return {row["patient_id"]: (row["n"], row["first"]) for row in rows}


def after_quiet_hours(
    patient: Any, now: datetime, local: datetime | None = None
) -> datetime | None:
    """When the patient's quiet hours end, if ``now`` falls inside them (``local``: ``now``
    in the local time zone, when the caller has it)."""
    local = local or timezone.localtime(now)
    start, end = patient.quiet_hours_start, patient.quiet_hours_end
    if not in_quiet(local.time(), start, end):
        return None
    end_at = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    return end_at if end_at > local else end_at + timedelta(days=1)
