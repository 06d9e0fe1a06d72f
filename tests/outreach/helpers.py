"""What the outreach tests build: due tasks with consent, an Aliyun SMS channel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from careloop.followup.models import Task
from careloop.outreach.models import ChannelConfig, MessageTemplate
from careloop.patients.models import ConsentRecord
from tests.outreach.conftest import ProviderServer

NOON = timezone.make_aware(datetime(2026, 12, 3, 12, 0))


def make_task(
    patient: Any,
    *,
    channel: str = "sms",
    form: str = "",
    consent: bool = True,
    channels: list[str] | None = None,
) -> Task:
    if consent:
        ConsentRecord.objects.create(
            patient=patient,
            purpose="followup",
            channel=channel,
            granted=True,
            recorded_at=NOON - timedelta(days=1),
        )
    return Task.objects.create(
        patient=patient,
        organisation=patient.organisation,
        title="出院第3天症状问询" if form else "复查提醒",
        purpose="condition_tracking" if form else "revisit_reminder",
        channel=channel,
        channels=channels or [channel, "phone"],
        form=form,
        due_at=NOON - timedelta(minutes=5),
        deadline=NOON + timedelta(days=2),
    )


def aliyun(provider: ProviderServer) -> None:
    config = ChannelConfig(
        channel="sms",
        provider="aliyun_sms",
        settings={"sign_name": "测试医院", "endpoint": provider.url},
    )
    config.set_secrets({"access_key_id": "k", "access_key_secret": "s"})
    config.save()
    MessageTemplate.objects.create(
        purpose="revisit_reminder",
        channel="sms",
        name="复诊提醒",
        body="{{ salutation }}您好，请按时复诊。",
        provider_template="SMS_1",
        params={"name": "{{ salutation }}"},
        approved=True,
    )
