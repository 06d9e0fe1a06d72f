"""Previewing message templates: for a sample patient or a real one the user may see, with
length and SMS parts, template errors named, other organisations' patients refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from careloop.audit.models import AuditEvent
from careloop.outreach.models import ChannelConfig, MessageTemplate
from careloop.outreach.preview import sms_parts

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(body: str, patient: str = "", channel: str = "sms") -> dict[str, str]:
    return {"purpose": "revisit_reminder", "channel": channel, "body": body, "patient": patient}


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)])
def test_sms_parts_follow_the_70_and_67_character_rule(length: int, parts: int) -> None:
    assert sms_parts(length) == parts


def test_a_saved_template_previews_for_a_real_patient_with_the_signature_counted(
    at_noon: Any, alice: Any, hospital: Any, patient_factory: Any
) -> None:
    ChannelConfig.objects.create(
        channel="sms", provider="outbox", organisation=hospital, settings={"sign_name": "一院"}
    )
    template = MessageTemplate.objects.create(
        organisation=hospital,
        purpose="revisit_reminder",
        channel="sms",
        name="复诊提醒",
        body="{{ salutation }}您好，{{ hospital }}提醒您{{ due_date }}前复诊。回T退订",
    )
    patient_factory(organisation=hospital, name="李建国", sex="male", phone="13512345678")
    client = signed_in(alice)
    listing = client.get("/outreach/templates/").content.decode()
    assert "复诊提醒" in listing and f"/outreach/templates/{template.pk}/preview/" in listing
    page = client.get(f"/outreach/templates/{template.pk}/preview/").content.decode()
    assert "{{ salutation }}您好" in page  # the form starts with the saved text
    shown = client.post(
        f"/outreach/templates/{template.pk}/preview/", form(template.body, "13512345678")
    ).content.decode()
    assert "李叔叔您好，第一人民医院提醒您12月5日前复诊" in shown  # born 1960: 叔叔
    text_length = len("【一院】李叔叔您好，第一人民医院提醒您12月5日前复诊。回T退订")
    assert f"{text_length} 个字" in shown or f"{text_length} characters" in shown
    assert AuditEvent.objects.filter(
        actor=alice, summary="message template previewed for the patient"
    ).exists()


def test_a_draft_previews_for_the_sample_patient_and_errors_are_named(alice: Any) -> None:
    client = signed_in(alice)
    shown = client.post("/outreach/templates/preview/", form("{{ salutation }}好")).content
    assert "张阿姨好" in shown.decode()
    assert "回T退订" in shown.decode()  # the warning: an SMS without a way to stop them
    broken = client.post("/outreach/templates/preview/", form("{% if %}")).content.decode()
    assert "模板有误" in broken  # in Chinese, the template language's own detail after it
    empty = client.post("/outreach/templates/preview/", form(""))
    assert empty.context["form"].errors["body"]


def test_a_patient_of_another_organisation_is_not_found(
    alice: Any, community: Any, patient_factory: Any
) -> None:
    patient_factory(organisation=community, name="赵六", phone="13800001111")
    page = signed_in(alice).post(
        "/outreach/templates/preview/", form("{{ salutation }}", "13800001111")
    )
    assert page.context["form"].errors["patient"]
    assert page.context["shown"] is None


def test_a_search_matching_several_patients_says_which_one_is_shown(
    alice: Any, hospital: Any, patient_factory: Any
) -> None:
    first = patient_factory(organisation=hospital, name="王秀兰")
    patient_factory(organisation=hospital, name="王秀英")
    patient_factory(organisation=hospital, name="王秀芳")
    client = signed_in(alice)
    page = client.post("/outreach/templates/preview/", form("{{ salutation }}好", "王秀"))
    text = page.content.decode()
    assert page.context["who"] == first and page.context["matched"] == 3
    assert f"匹配到 3 位患者，显示第一位：王秀兰 ({first.card_number})" in text
    assert "请输入更完整的姓名或卡号" in text
    one = client.post("/outreach/templates/preview/", form("{{ salutation }}好", "王秀英"))
    assert one.context["matched"] == 1 and "匹配到" not in one.content.decode()


def test_a_template_error_is_explained_in_chinese_before_the_detail(alice: Any) -> None:
    page = signed_in(alice).post("/outreach/templates/preview/", form("{% if x %}未闭合"))
    error = page.context["shown"].error
    assert error.startswith("模板有误（请检查 {% %} 标签是否成对")
    assert "endif" in error  # the template language's own detail is kept
