"""The knowledge base (F18): a patient's clear question is answered at once on the channel it
came on; a question that tells of a symptom, or one not clear enough, is read by a person,
the closest common question shown beside it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from careloop.outreach.faq import suggest
from careloop.outreach.faq_pack import load_faq_pack
from careloop.outreach.models import ChannelConfig, FaqEntry, Message, MessageTemplate, Reply
from careloop.outreach.replies import receive
from careloop.outreach.sending import send_due
from careloop.patients.models import ConsentRecord
from tests.factories import OrganisationFactory
from tests.outreach.helpers import NOON

pytestmark = pytest.mark.django_db
FASTING = "复查抽血前需要空腹吗？"


@pytest.fixture
def pack(db: None) -> int:
    return load_faq_pack()


def consenting(patient: Any, channel: str = "sms") -> Any:
    ConsentRecord.objects.create(
        patient=patient,
        purpose="followup",
        channel=channel,
        granted=True,
        recorded_at=NOON - timedelta(days=1),
    )
    return patient


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("明天复查要不要空腹？", FASTING),
        ("抽血前能吃饭吗", FASTING),
        ("我的报告出来了没", "体检报告什么时候出？"),
        ("降压药忘吃了咋办", "降压药漏服了怎么办？"),
        ("伤口可以碰水吗？", "出院后伤口可以洗澡吗？"),
    ],
)
def test_a_clear_question_is_answered_with_its_entry(pack: int, text: str, question: str) -> None:
    found = suggest(text, None)
    assert found is not None and found.entry.question == question and found.confident


@pytest.mark.parametrize(
    "text",
    [
        "报告上血糖高怎么办",  # close to no entry enough
        "我明天去复查",  # tells, does not ask
        "想改一下复诊的时间",  # a request: a person arranges it
    ],
)
def test_what_is_not_clearly_a_known_question_is_not_answered(pack: int, text: str) -> None:
    found = suggest(text, None)
    assert found is None or not found.confident


@pytest.mark.parametrize(
    "text",
    [
        "血压180/110，降压药漏服了怎么办",  # a reading: no symptom word, yet not for everyone
        "血糖2.8，药吃完了去哪里开？",
        "今天体温38.5℃，报告什么时候出",
        "我吃了两倍的降压药怎么办",  # the answer to a missed tablet does not fit
        "“复查前需要空腹吗？”收到",  # our question quoted back asks nothing
        # unwell, or an event, in words that are no symptom's: a person reads it
        "还是不舒服，药吃完了去哪里开",
        "人很难受，报告什么时候出",
        "吃了药还是不见好，降压药漏服了怎么办",
        "老人摔了一跤，复查要空腹吗",
        "最近晕倒过一次，报告什么时候出",
        "我爸住院了，复查还要空腹吗",
    ],
)
def test_a_reading_a_wrong_dose_being_unwell_or_a_quoted_question_is_not_answered(
    pack: int, text: str
) -> None:
    found = suggest(text, None)
    assert found is not None and not found.confident


def test_a_reply_telling_a_reading_stays_to_be_read(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any
) -> None:
    consenting(patient_factory(organisation=hospital, phone="13600002229"))
    reply = receive("sms", "血压180了，降压药漏服了怎么办", provider="outbox", sender="13600002229")
    assert reply.kind == Reply.Kind.UNCLEAR and reply.faq is not None
    assert not Message.objects.exists()


def test_nothing_close_is_no_suggestion(pack: int) -> None:
    assert suggest("好的谢谢", None) is None
    assert suggest("我今天头有点晕", None) is None


def test_an_organisations_entries_answer_only_its_patients_and_those_below(
    hospital: Any, cardiology: Any, community: Any
) -> None:
    FaqEntry.objects.create(
        organisation=hospital, question="停车场在哪里？", answer="门诊楼东侧地下停车场。"
    )
    FaqEntry.objects.create(question="停车场收费吗？", answer="…", active=False)
    found = suggest("医院停车场在哪里？", cardiology)
    assert found is not None and found.entry.question == "停车场在哪里？" and found.confident
    assert suggest("医院停车场在哪里？", community) is None


def test_the_answer_goes_back_by_sms_at_once_and_the_reply_is_not_left_to_read(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any, bob: Any
) -> None:
    patient = consenting(
        patient_factory(organisation=hospital, name="王秀兰", sex="female", phone="13600002222")
    )
    reply = receive("sms", "明天复查要不要空腹？", provider="outbox", sender="13600002222")

    assert reply.kind == Reply.Kind.FAQ and reply.faq is not None
    assert reply.faq.question == FASTING
    assert FaqEntry.objects.get(pk=reply.faq.pk).times_used == 1
    message = Message.objects.get()
    assert reply.answer_message == message
    assert (message.patient, message.channel, message.purpose, message.to) == (
        patient,
        "sms",
        "faq_answer",
        "13600002222",
    )
    assert message.body.startswith("王阿姨您好，查血糖、血脂、肝功能等需空腹8～12小时")
    assert "自动回复" in message.body and message.body.endswith("回T退订")
    assert send_due().sent == 1
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED

    client = Client()
    client.force_login(bob)
    assert "明天复查要不要空腹" not in client.get("/outreach/inbox/").content.decode()
    everything = client.get("/outreach/inbox/?show=all").content.decode()
    assert "已用知识库自动回复" in everything and FASTING in everything


def test_a_question_that_tells_of_a_symptom_is_read_by_a_person(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any
) -> None:
    consenting(patient_factory(organisation=hospital, phone="13600002223"))
    reply = receive("sms", "伤口发红流脓了，可以洗澡吗？", provider="outbox", sender="13600002223")
    assert reply.symptoms == ["伤口异常"] and reply.alert is not None
    assert reply.kind != Reply.Kind.FAQ and not Message.objects.exists()


def test_without_consent_the_closest_answer_waits_beside_the_reply_in_the_inbox(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any, bob: Any
) -> None:
    patient_factory(organisation=hospital, phone="13600002224")
    reply = receive("sms", "明天复查要不要空腹？", provider="outbox", sender="13600002224")
    assert reply.kind == Reply.Kind.UNCLEAR and reply.faq is not None
    assert not Message.objects.exists()
    client = Client()
    client.force_login(bob)
    page = client.get("/outreach/inbox/").content.decode()
    assert "明天复查要不要空腹" in page and "最接近的常见问题" in page and FASTING in page


def test_an_sms_provider_answers_only_through_an_approved_template(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any
) -> None:
    config = ChannelConfig(channel="sms", provider="aliyun_sms", settings={"sign_name": "测试医院"})
    config.set_secrets({"access_key_id": "k", "access_key_secret": "s"})
    config.save()
    consenting(patient_factory(organisation=hospital, phone="13600002225"))
    first = receive("sms", "明天复查要不要空腹？", provider="aliyun_sms", sender="13600002225")
    assert first.kind == Reply.Kind.UNCLEAR and not Message.objects.exists()

    MessageTemplate.objects.create(
        purpose="faq_answer",
        channel="sms",
        name="常见问题自动回复",
        body="{{ salutation }}您好，{{ answer }}",
        provider_template="SMS_FAQ",
        params={"answer": "{{ answer }}"},
        approved=True,
    )
    again = receive("sms", "抽血前能吃饭吗", provider="aliyun_sms", sender="13600002225")
    assert again.kind == Reply.Kind.FAQ
    message = Message.objects.get()
    assert message.template_code == "SMS_FAQ"
    assert message.params["answer"].startswith("查血糖、血脂、肝功能等需空腹")


def test_faq_check_prints_what_a_reply_would_get(pack: int) -> None:
    out = StringIO()
    call_command("faq_check", "明天复查要不要空腹？", stdout=out)
    result = json.loads(out.getvalue())
    assert result["asks"] and result["answered"] and result["question"] == FASTING
    assert result["answer"].startswith("查血糖") and len(result["others"]) == 3
    OrganisationFactory(code="H9")
    out = StringIO()
    call_command("faq_check", "好的谢谢", "--organisation", "H9", stdout=out)
    assert json.loads(out.getvalue())["question"] is None


def test_the_pack_is_loaded_once_and_an_edited_entry_kept(pack: int) -> None:
    assert pack == 8
    FaqEntry.objects.filter(question=FASTING).update(answer="本院的说法")
    assert load_faq_pack() == 0
    assert FaqEntry.objects.get(question=FASTING).answer == "本院的说法"


def test_staff_answer_a_reply_from_the_inbox_starting_from_the_closest_entry(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any, bob: Any
) -> None:
    patient = consenting(patient_factory(organisation=hospital, phone="13600002226"))
    reply = receive("sms", "吃了早饭还能抽血吗？", provider="outbox", sender="13600002226")
    assert reply.kind == Reply.Kind.UNCLEAR and reply.faq is not None  # a suggestion only
    client = Client()
    client.force_login(bob)
    page = client.get("/outreach/inbox/").content.decode()
    assert "回复患者" in page and f"{reply.faq.answer}</textarea>" in page

    empty = client.post(f"/outreach/inbox/{reply.pk}/answer/", {"text": " "}, follow=True)
    assert "请填写回复内容，最多 300 字" in empty.content.decode()
    sent = client.post(
        f"/outreach/inbox/{reply.pk}/answer/",
        {"text": "吃过早饭的话，血糖和血脂会不准，请改天空腹来。"},
    )
    assert sent.status_code == 302
    message = Message.objects.get()
    assert (message.patient, message.to, message.key) == (
        patient,
        "13600002226",
        f"answer:{reply.pk}",
    )
    assert "血糖和血脂会不准" in message.body
    reply.refresh_from_db()
    assert reply.handled_by == bob and not reply.needs_reading
    again = client.post(f"/outreach/inbox/{reply.pk}/answer/", {"text": "再说一遍"}, follow=True)
    assert "这条回复已经答复过了" in again.content.decode() and Message.objects.count() == 1


def test_an_answer_that_cannot_go_says_why_and_leaves_the_reply_to_read(
    at_noon: datetime, patient_factory: Any, hospital: Any, bob: Any, dave: Any
) -> None:
    patient_factory(organisation=hospital, phone="13600002227")  # no consent
    reply = receive("sms", "你好，我想问个事", provider="outbox", sender="13600002227")
    client = Client()
    client.force_login(bob)
    refused = client.post(f"/outreach/inbox/{reply.pk}/answer/", {"text": "请讲"}, follow=True)
    assert "未发送：患者未同意通过该渠道随访" in refused.content.decode()
    reply.refresh_from_db()
    assert reply.needs_reading and not Message.objects.exists()
    other = Client()
    other.force_login(dave)  # another organisation's nurse
    assert other.post(f"/outreach/inbox/{reply.pk}/answer/", {"text": "x"}).status_code in (
        403,
        404,
    )


def test_a_question_beside_an_answer_is_answered_not_dropped(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any
) -> None:
    """ "不头晕了，报告什么时候出？" was read as an answer (the negation) and left no one to
    answer its question."""
    consenting(patient_factory(organisation=hospital, phone="13600002230"))
    reply = receive("sms", "不头晕了，报告什么时候出？", provider="outbox", sender="13600002230")
    assert reply.negated == ["头晕"] and reply.kind == Reply.Kind.FAQ
    assert reply.faq is not None and reply.faq.question == "体检报告什么时候出？"
    plain = receive("sms", "不头晕了，谢谢", provider="outbox", sender="13600002230")
    assert plain.kind == Reply.Kind.ANSWER and plain.faq is None  # nothing asked
    other = receive("sms", "没有胸闷了，食堂几点开门？", provider="outbox", sender="13600002230")
    assert other.kind == Reply.Kind.UNCLEAR and other.needs_reading  # a person answers it


@pytest.mark.parametrize("text", ["没有胸痛，复查要空腹吗？", "头晕好了。明天复查要不要空腹？"])
def test_a_question_asked_beside_a_denied_symptom_is_answered_not_dropped(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any, text: str
) -> None:
    consenting(patient_factory(organisation=hospital, phone="13600002226"))
    reply = receive("sms", text, provider="outbox", sender="13600002226")
    assert reply.negated and not reply.symptoms
    assert reply.kind == Reply.Kind.FAQ and reply.faq is not None
    assert reply.faq.question == FASTING and Message.objects.get().purpose == "faq_answer"


def test_a_question_beside_a_denied_symptom_not_known_to_the_base_is_left_to_read(
    at_noon: datetime, pack: int, patient_factory: Any, hospital: Any, bob: Any
) -> None:
    patient_factory(organisation=hospital, phone="13600002227")
    reply = receive("sms", "没有胸痛了，我能不能停药？", provider="outbox", sender="13600002227")
    assert reply.kind == Reply.Kind.UNCLEAR and reply.needs_reading
    client = Client()
    client.force_login(bob)
    assert "我能不能停药" in client.get("/outreach/inbox/").content.decode()


def test_a_reply_typed_in_from_the_outbox_is_answered_at_the_messages_address(
    at_noon: datetime, patient_factory: Any, hospital: Any, bob: Any
) -> None:
    patient = consenting(patient_factory(organisation=hospital, phone="13600002228"))
    ours = Message.objects.create(
        organisation=hospital,
        patient=patient,
        key="demo:1",
        channel="sms",
        provider="outbox",
        body="您好",
        to="13600002228",
        status=Message.Status.SENT,
    )
    client = Client()
    client.force_login(bob)
    client.post(f"/outreach/outbox/{ours.pk}/answer/", {"text": "我想问个事，找谁？"})
    reply = Reply.objects.get()
    assert reply.sender == "" and reply.needs_reading
    page = client.post(
        f"/outreach/inbox/{reply.pk}/answer/", {"text": "请致电随访中心"}, follow=True
    )
    assert "该渠道无法发送文字回复" not in page.content.decode()
    answer = Message.objects.get(key=f"answer:{reply.pk}")
    assert (answer.channel, answer.to, answer.patient) == ("sms", "13600002228", patient)
    reply.refresh_from_db()
    assert reply.handled_at is not None


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("明天复查要不要空腹", True),  # 要不要: jieba cut it so that no question word was left
        ("能不能吃早饭", True),
        ("报告出来没", True),
        ("好的谢谢", False),
        ("我明天去复查", False),
    ],
)
def test_a_question_without_a_question_mark_is_heard(text: str, asked: bool) -> None:
    from careloop.outreach.faq import asks

    assert asks(text) is asked
