"""The administration's read-only lists name coded values (a plan's trigger, a task's or a
message's channel, a provider, a callback's kind, an audit record's type) by their labels in
the page's language, in the column and in the filter, where they showed the raw code."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from careloop.audit.models import AuditEvent
from careloop.followup.models import Pathway
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from careloop.outreach.models import Message, ProviderCallback, Reply
from tests.factories import PatientFactory
from tests.outreach.helpers import NOON, make_task
from tests.test_pathway_admin import _admin_client

pytestmark = pytest.mark.django_db


def _cells(page: Any, column: str) -> list[str]:
    """The text of the changelist's cells of ``column`` (``field-<name>``)."""
    found = re.findall(rf'class="field-{column}"[^>]*>(.*?)</t[dh]>', page.content.decode(), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in found]


def _filter(page: Any) -> str:
    found = re.search(r'id="changelist-filter"(.*?)</nav>', page.content.decode(), re.S)
    assert found, "the changelist has no filter"
    return html.unescape(found.group(1))


def _in(client: Client, language: str) -> Client:
    client.cookies["django_language"] = language
    return client


@pytest.mark.parametrize(
    ("language", "trigger", "channel"),
    [("en", "manual", "home visit"), ("zh-hans", "手动", "上门随访")],
)
def test_plans_and_tasks_show_trigger_and_channel_labels(
    hospital: Any, language: str, trigger: str, channel: str
) -> None:
    load_pack()
    patient = PatientFactory(organisation=hospital)
    assert enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    make_task(patient, channel="home_visit", consent=False)
    client = _in(_admin_client(hospital), language)
    plans = client.get("/admin/followup/plan/")
    assert _cells(plans, "trigger_label") == [trigger]
    assert trigger in _filter(plans)
    tasks = client.get("/admin/followup/task/?channel=home_visit")
    assert _cells(tasks, "channel_label") == [channel]
    assert channel in _filter(tasks)


@pytest.mark.parametrize(
    ("language", "channel", "provider", "kind", "record"),
    [
        ("en", "SMS", "Aliyun SMS", "delivery report", "follow-up plan"),
        ("zh-hans", "短信", "阿里云短信", "发送回执", "随访计划"),
    ],
)
def test_messages_callbacks_and_audit_records_show_labels(
    hospital: Any, language: str, channel: str, provider: str, kind: str, record: str
) -> None:
    task = make_task(PatientFactory(organisation=hospital), consent=False)
    Message.objects.create(
        organisation=task.organisation,
        patient=task.patient,
        task=task,
        key=f"task:{task.pk}:sms",
        channel="sms",
        provider="aliyun_sms",
        body="您好",
        status=Message.Status.SENT,
        sent_at=NOON,
    )
    Reply.objects.create(channel="sms", provider="aliyun_sms", received_at=NOON, text="好的")
    ProviderCallback.objects.create(provider="aliyun_sms", kind="report")
    AuditEvent.objects.create(actor_label="系统", action="create", object_type="plan")
    client = _in(_admin_client(hospital), language)
    messages = client.get("/admin/outreach/message/")
    assert _cells(messages, "channel_label") == [channel]
    assert _cells(messages, "provider_label") == [provider]
    assert provider in _filter(messages)
    replies = client.get("/admin/outreach/reply/")
    assert _cells(replies, "channel_label") == [channel]
    callbacks = client.get("/admin/outreach/providercallback/")
    assert _cells(callbacks, "provider_label") == [provider]
    assert _cells(callbacks, "kind_label") == [kind]
    audit = client.get("/admin/audit/auditevent/?object_type=plan")
    assert record in _cells(audit, "object_type_label")


def test_a_reply_is_read_only_in_the_administration(hospital: Any) -> None:
    """What a patient said is not edited, nor made up, in the administration."""
    reply = Reply.objects.create(
        channel="sms", provider="aliyun_sms", received_at=NOON, text="好的"
    )
    client = _admin_client(hospital)
    page = client.get(f"/admin/outreach/reply/{reply.pk}/change/")
    assert page.status_code == 200 and 'name="text"' not in page.content.decode()
    client.post(f"/admin/outreach/reply/{reply.pk}/change/", {"text": "胸痛", "channel": "sms"})
    reply.refresh_from_db()
    assert reply.text == "好的"
    assert client.get("/admin/outreach/reply/add/").status_code == 403
    # nor removed there (an unhandled "胸痛" would leave the inbox, unaudited)
    assert client.post(f"/admin/outreach/reply/{reply.pk}/delete/", {"post": "yes"}).status_code
    assert Reply.objects.filter(pk=reply.pk).exists()


def test_an_exam_packages_fields_are_labelled_in_chinese(hospital: Any) -> None:
    """Its sex field read 兑换项目 (the rewards' "for") and its organisation "Organisation"."""
    page = _in(_admin_client(hospital), "zh-hans").get("/admin/followup/exampackage/add/")
    labels = re.findall(
        r'<label[^>]*for="id_(organisation|sex)"[^>]*>(.*?)</label>', page.content.decode()
    )
    assert dict(labels) == {"organisation": "机构:", "sex": "适用人群:"}
