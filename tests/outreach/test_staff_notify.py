"""Staff notifications: the owner of a new, assigned or escalated alert is told once, in
CareLoop and on WeCom (no patient details there); the rule action "notify"; the bell."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.followup.alert_flow import Action, Step, do_transition
from careloop.followup.models import Alert
from careloop.followup.services import raise_alert
from careloop.outreach.models import ChannelConfig, StaffNotification
from careloop.outreach.staff_notify import deliver, notify_new_owners
from tests.outreach.conftest import ProviderServer, Seen

pytestmark = pytest.mark.django_db


def alert_for(patient: Any) -> Alert:
    return raise_alert(
        patient,
        kind=Alert.Kind.MANUAL,
        severity=Alert.Severity.HIGH,
        title="血压 186/112",
        reason="家庭自测血压 186/112 mmHg",
    )


def test_the_owner_is_told_once_and_a_new_owner_again(
    hospital: Any, patient_factory: Any, carol: Any, bob: Any
) -> None:
    patient = patient_factory(
        organisation=carol.organisation, name="钱学明", responsible_doctor=carol
    )
    alert = alert_for(patient)
    assert notify_new_owners() == 1
    assert notify_new_owners() == 0
    told = StaffNotification.objects.get()
    assert (told.user, told.alert, told.delivery) == (carol, alert, "in_app")
    assert told.title == "高预警：血压 186/112" and told.link == f"/alerts/{alert.pk}/"
    do_transition(alert, bob, Step(Action.ASSIGN, assignee=bob))
    assert notify_new_owners() == 1
    assert StaffNotification.objects.filter(user=bob).count() == 1


def test_wecom_delivery_carries_no_patient_details(
    hospital: Any, patient_factory: Any, carol: Any, provider: ProviderServer, settings: Any
) -> None:
    settings.CARELOOP_PUBLIC_URL = "https://followup.h1.example.cn"

    def answer(seen: Seen) -> tuple[int, object]:
        if seen.path == "/cgi-bin/gettoken":
            return 200, {"errcode": 0, "access_token": "WT", "expires_in": 7200}
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": "m9"}

    provider.answer = answer
    config = ChannelConfig(
        channel="wecom",
        provider="wecom",
        settings={"corp_id": "ww1", "agent_id": "1000002", "api": provider.url},
    )
    config.set_secrets({"corp_secret": "cs"})
    config.save()
    carol.wecom_userid = "LiKe"
    carol.save()
    patient = patient_factory(
        organisation=carol.organisation, name="钱学明", responsible_doctor=carol
    )
    alert = alert_for(patient)
    notify_new_owners()
    assert deliver() == 1
    body = provider.seen[-1].json()
    assert body["touser"] == "LiKe"
    text = body["text"]["content"]
    assert "钱学明" not in text and "186" not in text
    assert text.endswith(f"https://followup.h1.example.cn/alerts/{alert.pk}/")
    assert StaffNotification.objects.get().delivery == "sent"
    assert deliver() == 0


def save_notify_rule() -> None:
    """A rule telling the responsible doctor of a systolic ≥ 180."""
    from careloop.rules.services import do_save_rule
    from tests.test_rules import SBP

    do_save_rule(
        None,
        "sbp-notify",
        {
            "name": "收缩压≥180 通知医生",
            "enabled": True,
            "trigger": "observation",
            "condition": {"kind": "latest", "code": SBP, "op": ">=", "value": 180},
            "actions": [{"type": "notify", "title": "请关注血压", "to": "responsible_doctor"}],
        },
    )


def test_a_rule_notifies_the_responsible_doctor(
    hospital: Any, patient_factory: Any, carol: Any
) -> None:
    from tests.test_rules import SBP, store

    save_notify_rule()
    patient = patient_factory(organisation=carol.organisation, responsible_doctor=carol)
    store(patient, SBP, 186, timezone.now())
    told = StaffNotification.objects.get(user=carol)
    assert told.title == "请关注血压" and "收缩压" in told.body


def test_the_bell_counts_and_opening_marks_read(
    hospital: Any, patient_factory: Any, carol: Any
) -> None:
    patient = patient_factory(organisation=carol.organisation, responsible_doctor=carol)
    alert = alert_for(patient)
    notify_new_owners()
    client = Client()
    client.force_login(carol)
    page = client.get("/outreach/notifications/").content.decode()
    assert 'data-testid="unread-count">1<' in page and "血压 186/112" in page
    item = StaffNotification.objects.get()
    opened = client.get(f"/outreach/notifications/{item.pk}/")
    assert opened["Location"] == f"/alerts/{alert.pk}/"
    item.refresh_from_db()
    assert item.read_at is not None
    assert (
        'data-testid="unread-count"' not in client.get("/outreach/notifications/").content.decode()
    )


def test_a_notification_about_a_patient_no_longer_in_reach_shows_nothing_of_them(
    hospital: Any, patient_factory: Any, carol: Any, community: Any
) -> None:
    """Told of an alert, then the patient moved out of Carol's reach: her list keeps the
    entry (unread, dated) but shows neither its title nor its text."""
    patient = patient_factory(
        organisation=carol.organisation, name="钱学明", responsible_doctor=carol
    )
    alert_for(patient)
    notify_new_owners()
    client = Client()
    client.force_login(carol)
    assert "血压 186/112" in client.get("/outreach/notifications/").content.decode()
    patient.organisation = community
    patient.save()
    page = client.get("/outreach/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "血压 186/112" not in page and "家庭自测" not in page
    assert 'data-testid="notification-hidden"' in page and "涉及您已无权查看的患者" in page
