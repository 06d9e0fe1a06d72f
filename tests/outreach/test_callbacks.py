"""Provider pushes over HTTP: delivery reports, replies, keypad answers and WeChat events,
each stored before it is read, authenticated by the URL token (and WeChat's signature)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from careloop.clinical.models import Encounter
from careloop.followup.models import Alert, FollowUpRecord, Pathway, Plan, Task
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from careloop.outreach.callbacks.wechat import signature
from careloop.outreach.models import (
    ChannelAddress,
    ChannelConfig,
    Message,
    ProviderCallback,
    Reply,
)
from careloop.outreach.queueing import queue_due
from careloop.outreach.receiving import callback_urls
from careloop.outreach.sending import send_due
from careloop.patients.models import ConsentRecord, Patient
from tests.outreach.conftest import ProviderServer
from tests.outreach.helpers import NOON, aliyun, make_task

pytestmark = pytest.mark.django_db


def config(provider: str, channel: str, **secrets: str) -> ChannelConfig:
    row = ChannelConfig(channel=channel, provider=provider, settings={})
    row.set_secrets(secrets)
    row.save()
    return row


def sent(task: Task, provider: str, provider_id: str = "P1", **fields: Any) -> Message:
    return Message.objects.create(
        organisation=task.organisation,
        patient=task.patient,
        task=task,
        key=f"task:{task.pk}:{task.channel}",
        channel=task.channel,
        provider=provider,
        body="您好",
        status=Message.Status.SENT,
        provider_id=provider_id,
        sent_at=NOON,
        **fields,
    )


def undelivered(biz_id: str) -> list[dict[str, Any]]:
    """Aliyun's report of an SMS not delivered (an empty number)."""
    return [{"success": False, "err_code": "MK:0001", "err_msg": "空号", "biz_id": biz_id}]


def post(url: str, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False)
    ctype = "text/xml" if isinstance(body, bytes) else "application/json"
    return Client().post(url, data=data, content_type=ctype, **extra)


def test_an_aliyun_delivery_report_marks_the_message_delivered_once(
    at_noon: datetime, patient_factory: Any, hospital: Any, provider: ProviderServer
) -> None:
    aliyun(provider)
    provider.answer = lambda _s: (200, {"Code": "OK", "BizId": "900^0", "RequestId": "r"})
    make_task(patient_factory(organisation=hospital))  # the helper's template: a reminder
    queue_due()
    assert send_due().sent == 1
    message = Message.objects.get()
    assert (message.status, message.provider_id) == (Message.Status.SENT, "900^0")
    url = callback_urls(ChannelConfig.objects.get())["report"]
    report = [
        {
            "phone_number": "1391234****",
            "success": True,
            "err_code": "DELIVERED",
            "err_msg": "用户接收成功",
            "biz_id": "900^0",
            "out_id": message.key,
        }
    ]
    answer = post(url, report)
    assert answer.status_code == 200
    assert answer.json() == {"code": 0, "msg": "接收成功"}
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert post(url, report).status_code == 200  # Aliyun re-sends: harmless
    stored = ProviderCallback.objects.order_by("id")
    assert [c.reports for c in stored] == [1, 0]
    assert json.loads(stored[0].raw) == report  # kept as received


def test_a_failed_delivery_passes_the_follow_up_to_the_next_channel(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    row = config("aliyun_sms", "sms", access_key_id="k", access_key_secret="s")
    task = make_task(patient_factory(organisation=hospital), form="symptom_check")
    message = sent(task, "aliyun_sms", provider_id="901^0")
    report = undelivered("901^0")
    assert post(callback_urls(row)["report"], report).status_code == 200
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error) == (
        Message.Status.FAILED,
        "MK:0001",
        "空号",
    )
    task.refresh_from_db()
    assert task.channel == "phone"


def test_a_reminder_closed_at_sending_opens_again_when_it_was_not_delivered(
    at_noon: datetime, patient_factory: Any, hospital: Any, provider: ProviderServer
) -> None:
    aliyun(provider)
    provider.answer = lambda _s: (200, {"Code": "OK", "BizId": "902^0", "RequestId": "r"})
    task = make_task(patient_factory(organisation=hospital))  # a reminder: no form
    queue_due()
    assert send_due().sent == 1
    task.refresh_from_db()
    assert (task.status, task.outcome) == (Task.Status.DONE, "reached")  # closed once sent
    url = callback_urls(ChannelConfig.objects.get())["report"]
    report = undelivered("902^0")
    assert post(url, report).status_code == 200
    task.refresh_from_db()
    assert (task.status, task.outcome, task.closed_at, task.channel) == (
        Task.Status.OPEN,
        "",
        None,
        "phone",  # the next channel of its policy: a nurse calls
    )
    record = FollowUpRecord.objects.get(task=task)
    assert (record.outcome, record.notes) == ("no_answer", "已发送（aliyun_sms），未送达：空号")
    assert post(url, report).status_code == 200  # reported again: nothing more changes
    task.refresh_from_db()
    assert (task.status, task.channel) == (Task.Status.OPEN, "phone")


def _closed_by_its_send(task: Task) -> Message:
    """A reminder as ``after_send`` leaves it: done, reached, closed the moment it was sent."""
    Task.objects.filter(pk=task.pk).update(
        status=Task.Status.DONE, outcome="reached", closed_at=NOON
    )
    return sent(task, "aliyun_sms", provider_id=f"9{task.pk}^0")


def _undelivered_report(message: Message) -> Task:
    row = ChannelConfig.objects.get()
    assert post(callback_urls(row)["report"], undelivered(message.provider_id)).status_code == 200
    assert message.task is not None
    message.task.refresh_from_db()
    return message.task


@pytest.mark.parametrize("since", ["closed by a nurse", "died", "came in", "plan stopped"])
def test_an_undelivered_reminder_stays_closed_when_it_no_longer_stands(
    since: str, at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    config("aliyun_sms", "sms", access_key_id="k", access_key_secret="s")
    patient = patient_factory(organisation=hospital)
    task = make_task(patient)  # a revisit reminder
    plan = None
    if since == "plan stopped":
        load_pack()
        plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
        assert plan is not None
        Task.objects.filter(pk=task.pk).update(plan=plan)
    message = _closed_by_its_send(task)
    if since == "closed by a nurse":  # by phone, after the send
        Task.objects.filter(pk=task.pk).update(closed_at=NOON + timedelta(hours=2))
    elif since == "died":
        Patient.objects.filter(pk=patient.pk).update(deceased_on=NOON.date())
    elif since == "came in":
        Encounter.objects.create(
            patient=patient, organisation=hospital, kind="outpatient", started_at=NOON
        )
    else:
        assert plan is not None
        Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.STOPPED)
    task = _undelivered_report(message)
    assert (task.status, task.channel) == (Task.Status.DONE, "sms")


def test_an_undelivered_last_reminder_sets_its_completed_plan_running_again(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    config("aliyun_sms", "sms", access_key_id="k", access_key_secret="s")
    load_pack()
    patient = patient_factory(organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None
    task = make_task(patient)
    Task.objects.filter(pk=task.pk).update(plan=plan)
    Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.COMPLETED, ended_at=NOON)
    task = _undelivered_report(_closed_by_its_send(task))
    assert (task.status, task.channel) == (Task.Status.OPEN, "phone")
    plan.refresh_from_db()
    assert (plan.status, plan.ended_at) == (Plan.Status.ACTIVE, None)


def test_an_aliyun_sms_reply_is_read_once_and_raises_an_alert(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    row = config("aliyun_sms", "sms", access_key_id="k", access_key_secret="s")
    patient = patient_factory(organisation=hospital, phone="13912345678")
    task = make_task(patient, form="symptom_check")
    sent(task, "aliyun_sms")
    up = [
        {
            "phone_number": "13912345678",
            "send_time": "2026-12-03 12:01:00",
            "content": "昨晚喘不上气，没有发烧",
            "sign_name": "测试医院",
            "dest_code": "1",
            "sequence_id": 77001,
        }
    ]
    url = callback_urls(row)["reply"]
    assert post(url, up).json()["code"] == 0
    assert post(url, up).status_code == 200
    reply = Reply.objects.get()
    assert (reply.patient, reply.task, reply.kind) == (patient, task, Reply.Kind.ANSWER)
    assert reply.symptoms == ["呼吸困难"] and reply.negated == ["发热"]
    assert "13912345678" not in reply.raw  # the raw push is kept encrypted, not here
    assert Alert.objects.get(kind=Alert.Kind.REPLY).severity == Alert.Severity.HIGH
    task.refresh_from_db()
    assert task.status == Task.Status.DONE


def test_a_wrong_token_or_kind_is_not_found_and_a_malformed_push_is_kept_and_refused(
    patient_factory: Any,
) -> None:
    row = config("aliyun_sms", "sms", access_key_id="k", access_key_secret="s")
    url = callback_urls(row)["report"]
    tampered = url.replace(url.split("/")[-3], "0" * 32)
    assert post(tampered, []).status_code == 404
    assert post(url.replace("/report/", "/events/"), []).status_code == 404
    assert not ProviderCallback.objects.exists()
    answer = post(url, [{"biz_id": "1"}])
    assert answer.status_code == 400
    assert answer.json()["msg"] == "item 0: success must be true or false"
    stored = ProviderCallback.objects.get()
    assert stored.status == ProviderCallback.Status.REJECTED
    assert post(url, b"not json").json()["msg"] == "the body is not UTF-8 JSON"


def test_tencent_report_by_session_context_and_an_opt_out_reply(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    row = config("tencent_sms", "sms", secret_id="i", secret_key="k")
    patient = patient_factory(organisation=hospital, phone="13700001111")
    task = make_task(patient)
    message = sent(task, "tencent_sms", provider_id="2019:1234")
    report = [
        {
            "user_receive_time": "2026-12-03 12:00:05",
            "nationcode": "86",
            "mobile": "13700001111",
            "report_status": "SUCCESS",
            "errmsg": "DELIVRD",
            "description": "用户短信送达成功",
            "sid": "2019:1234",  # the SerialNo SendSms answered: Tencent documents no "ext"
        }
    ]
    answer = post(callback_urls(row)["report"], report)
    assert answer.json() == {"result": 0, "errmsg": "OK"}
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    reply = {
        "extend": "",
        "mobile": "13700001111",
        "nationcode": "86",
        "sign": "测试医院",
        "text": "退订",
        "time": 1764734400,
    }
    assert post(callback_urls(row)["reply"], reply).status_code == 200
    assert Reply.objects.get().kind == Reply.Kind.OPT_OUT
    assert ConsentRecord.objects.filter(patient=patient, channel="sms", granted=False).exists()


def wechat_url(row: ChannelConfig, token: str = "tok", **query: str) -> str:  # noqa: S107
    stamp, nonce = query.pop("timestamp", str(int(time.time()))), "n0nce"
    sig = query.pop("signature", signature(token, stamp, nonce))
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"{callback_urls(row)['events']}?signature={sig}&timestamp={stamp}&nonce={nonce}{extra}"


def xml(**fields: str) -> bytes:
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName>{inner}</xml>".encode()


def test_wechat_url_check_text_reply_delivery_and_unsubscribe(
    patient_factory: Any, hospital: Any
) -> None:
    row = config("wechat_mp", "wechat", app_secret="s", callback_token="tok")
    row.settings = {"app_id": "wx1"}
    row.save()
    answer = Client().get(wechat_url(row, echostr="hello123"))
    assert answer.content == b"hello123"
    assert Client().get(wechat_url(row, token="wrong", echostr="x")).status_code == 403
    patient = patient_factory(organisation=hospital)
    ChannelAddress.objects.create(patient=patient, channel="wechat", address="oPENID1")
    task = make_task(patient, channel="wechat", form="symptom_check")
    message = sent(task, "wechat_mp", provider_id="200228332")
    done = xml(
        FromUserName="oPENID1",
        MsgType="event",
        Event="TEMPLATESENDJOBFINISH",
        MsgID="200228332",
        Status="success",
    )
    assert post(wechat_url(row), done).content == b"success"
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    text = xml(
        FromUserName="oPENID1",
        MsgType="text",
        Content="头晕好了，血压正常",
        MsgId="6054768590064713728",
    )
    post(wechat_url(row), text)
    post(wechat_url(row), text)  # WeChat retries when slow: read once
    reply = Reply.objects.get()
    assert (reply.patient, reply.kind, reply.negated) == (patient, Reply.Kind.ANSWER, ["头晕"])
    # The user refused the account's template messages: a failed delivery, and an opt-out.
    blocked = xml(
        FromUserName="oPENID1",
        MsgType="event",
        Event="TEMPLATESENDJOBFINISH",
        MsgID="200228333",
        Status="failed:user block",
    )
    assert post(wechat_url(row), blocked).content == b"success"
    assert Reply.objects.filter(kind=Reply.Kind.OPT_OUT, patient=patient).exists()
    assert ConsentRecord.objects.filter(patient=patient, channel="wechat", granted=False).exists()
    leave = xml(FromUserName="oPENID1", MsgType="event", Event="unsubscribe")
    assert post(wechat_url(row), leave).status_code == 200
    assert Reply.objects.filter(kind=Reply.Kind.OPT_OUT, patient=patient).count() == 2
    assert ConsentRecord.objects.filter(patient=patient, channel="wechat", granted=False).exists()
    stale = wechat_url(row, timestamp=str(int(time.time()) - 3600))
    assert post(stale, text).status_code == 403
    entity = b'<!DOCTYPE x [<!ENTITY a "b">]><xml><MsgType>text</MsgType></xml>'
    assert post(wechat_url(row), entity).status_code == 400


@pytest.mark.parametrize(
    ("event", "container", "item"),
    [
        # WeChat's samples (订阅通知的事件推送); the change event's own sample nests its list
        # under SubscribeMsgPopupEvent.
        (
            "subscribe_msg_popup_event",
            "SubscribeMsgPopupEvent",
            "<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>"
            "<PopupScene>2</PopupScene>",
        ),
        (
            "subscribe_msg_change_event",
            "SubscribeMsgPopupEvent",
            "<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>",
        ),
        (
            "subscribe_msg_sent_event",
            "SubscribeMsgSentEvent",
            "<MsgID>1700827132819554304</MsgID><ErrorCode>43101</ErrorCode>"
            "<ErrorStatus><![CDATA[fail]]></ErrorStatus>",
        ),
    ],
)
def test_a_declined_wechat_subscription_is_an_opt_out(
    patient_factory: Any, hospital: Any, event: str, container: str, item: str
) -> None:
    row = config("wechat_mp", "wechat", app_secret="s", callback_token="tok")
    row.settings = {"app_id": "wx1", "kind": "subscribe"}
    row.save()
    patient = patient_factory(organisation=hospital)
    ChannelAddress.objects.create(patient=patient, channel="wechat", address="oPENID1")

    def push(status_item: str) -> bytes:
        return (
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
            "<FromUserName><![CDATA[oPENID1]]></FromUserName><CreateTime>1610969440</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
            f"<{container}><List><TemplateId><![CDATA[T1]]></TemplateId>{status_item}</List>"
            f"</{container}></xml>"
        ).encode()

    accepted = item.replace("reject", "accept").replace(">43101<", ">0<")
    assert post(wechat_url(row), push(accepted)).content == b"success"
    assert not ConsentRecord.objects.filter(patient=patient, channel="wechat").exists()
    assert post(wechat_url(row), push(item)).content == b"success"
    assert Reply.objects.filter(kind=Reply.Kind.OPT_OUT, patient=patient).count() == 1
    assert ConsentRecord.objects.filter(patient=patient, channel="wechat", granted=False).exists()


def test_a_declined_subscription_leaves_a_template_message_channel_alone(
    patient_factory: Any, hospital: Any
) -> None:
    """The account's template messages are another permission than its subscribe messages."""
    row = config("wechat_mp", "wechat", app_secret="s", callback_token="tok")
    row.settings = {"app_id": "wx1"}
    row.save()
    patient = patient_factory(organisation=hospital)
    ChannelAddress.objects.create(patient=patient, channel="wechat", address="oPENID1")
    change = (
        b"<xml><FromUserName>oPENID1</FromUserName><MsgType>event</MsgType>"
        b"<Event>subscribe_msg_change_event</Event><SubscribeMsgChangeEvent><List>"
        b"<TemplateId>T1</TemplateId><SubscribeStatusString>reject</SubscribeStatusString>"
        b"</List></SubscribeMsgChangeEvent></xml>"
    )
    assert post(wechat_url(row), change).content == b"success"
    assert not ConsentRecord.objects.filter(patient=patient, channel="wechat").exists()


def test_a_keypad_answer_on_a_voice_call_is_read_as_its_meaning(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    row = config("aliyun_voice", "voice", access_key_id="k", access_key_secret="s")
    patient = patient_factory(organisation=hospital, phone="13600002222")
    task = make_task(patient, channel="voice", form="symptom_check")
    message = sent(
        task, "aliyun_voice", provider_id="116^100", keys={"1": "没有不舒服", "2": "有胸闷"}
    )
    report = [
        {
            "call_id": "116^100",
            "start_time": "2026-12-03 12:00:03",
            "end_time": "2026-12-03 12:00:40",
            "duration": "37",
            "status_code": "200000",
            "status_msg": "用户听完挂断",
            "out_id": message.key,
            "dtmf": "2",
            "callee": "13600002222",
        }
    ]
    assert post(callback_urls(row)["report"], report).json() == {"code": 0, "msg": "成功"}
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    reply = Reply.objects.get()
    assert (reply.text, reply.symptoms, reply.task) == ("有胸闷", ["胸痛胸闷"], task)
    assert Alert.objects.filter(patient=patient, kind=Alert.Kind.REPLY).exists()


def test_the_built_in_all_is_well_key_of_a_check_up_call_is_an_answer(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    """Key 1 of a check-up call's built-in words (没有不舒服) answers the follow-up: the
    patient reached, no symptom. It was read as an unclear reply, left in the inbox for
    someone to read and the follow-up not recorded, for every patient who was well."""
    from careloop.outreach.compose import DEFAULT_VOICE_KEYS

    row = config("aliyun_voice", "voice", access_key_id="k", access_key_secret="s")
    patient = patient_factory(organisation=hospital, phone="13600004444")
    task = make_task(patient, channel="voice", form="symptom_check")
    keys = DEFAULT_VOICE_KEYS["condition_tracking"]
    sent(task, "aliyun_voice", provider_id="117^100", keys=keys)
    during = [{"status_code": "300000", "dtmf": "1", "out_id": "", "call_id": "117^100"}]
    assert post(callback_urls(row)["report"], during).json()["code"] == 0
    reply = Reply.objects.get()
    assert (reply.text, reply.symptoms, reply.kind) == ("没有不舒服", [], Reply.Kind.ANSWER)
    assert FollowUpRecord.objects.filter(task=task, outcome="reached").exists()
    assert not Alert.objects.filter(patient=patient).exists()


def test_the_built_in_will_attend_key_of_a_revisit_reminder_call_is_an_answer(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    """Key 1 of a revisit reminder's built-in call words (会按时复诊) is a plain yes, as 好的
    is: it was read as an unclear reply and left in the inbox for someone to read."""
    from careloop.outreach.compose import DEFAULT_VOICE_KEYS

    row = config("aliyun_voice", "voice", access_key_id="k", access_key_secret="s")
    patient = patient_factory(organisation=hospital, phone="13600005555")
    task = make_task(patient, channel="voice")  # a revisit reminder
    keys = DEFAULT_VOICE_KEYS["revisit_reminder"]
    sent(task, "aliyun_voice", provider_id="119^100", keys=keys)
    during = [{"status_code": "300000", "dtmf": "1", "out_id": "", "call_id": "119^100"}]
    assert post(callback_urls(row)["report"], during).json()["code"] == 0
    reply = Reply.objects.get()
    assert (reply.text, reply.kind) == ("会按时复诊", Reply.Kind.ANSWER)


def test_the_dissatisfied_key_of_a_satisfaction_call_raises_the_low_satisfaction_alert(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    """The built-in satisfaction keys carry the form's score: 不满意 (3) is a detractor, as
    a typed "3分" is; it was stored with no score and raised nothing."""
    from careloop.outreach.compose import DEFAULT_VOICE_KEYS

    row = config("aliyun_voice", "voice", access_key_id="k", access_key_secret="s")
    patient = patient_factory(organisation=hospital, phone="13600006666")
    task = make_task(patient, channel="voice", form="satisfaction")
    sent(task, "aliyun_voice", provider_id="120^100", keys=DEFAULT_VOICE_KEYS["satisfaction"])
    during = [{"status_code": "300000", "dtmf": "3", "out_id": "", "call_id": "120^100"}]
    assert post(callback_urls(row)["report"], during).json()["code"] == 0
    record = FollowUpRecord.objects.get(task=task)
    assert record.answers["score"] == 3
    alert = Alert.objects.get(patient=patient, kind=Alert.Kind.LOW_SATISFACTION)
    assert alert.title == "满意度低：3 分"


def test_a_keypad_answer_during_the_call_without_out_id_is_matched_by_its_call_id(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    """VoiceCallReport while the call goes on (no callee), for a call sent without OutId
    (Dyvmsapi takes 15 bytes at most, task:10000:voice is 16): matched by call_id."""
    row = config("aliyun_voice", "voice", access_key_id="k", access_key_secret="s")
    patient = patient_factory(organisation=hospital, phone="13600003333")
    task = make_task(patient, channel="voice", form="symptom_check")
    sent(task, "aliyun_voice", provider_id="118^100", keys={"1": "没有不舒服", "2": "有胸闷"})
    during = [
        {
            "status_code": "300000",
            "dtmf": "2",
            "status_time": "2026-12-03 12:00:20",
            "out_id": "",
            "call_id": "118^100",
        }
    ]
    assert post(callback_urls(row)["report"], during).json()["code"] == 0
    reply = Reply.objects.get()
    assert (reply.text, reply.task) == ("有胸闷", task)


def test_an_unanswered_call_fails_its_message(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    row = config("aliyun_voice", "voice", access_key_id="k", access_key_secret="s")
    task = make_task(
        patient_factory(organisation=hospital),
        channel="voice",
        form="symptom_check",
        channels=["voice", "phone"],
    )
    message = sent(task, "aliyun_voice", provider_id="117^100")
    report = [
        {
            "call_id": "117^100",
            "start_time": "",
            "end_time": "2026-12-03 12:00:30",
            "duration": "0",
            "status_code": "200005",
            "status_msg": "用户未接听",
            "out_id": message.key,
        }
    ]
    post(callback_urls(row)["report"], report)
    message.refresh_from_db()
    assert (message.status, message.error) == (Message.Status.FAILED, "用户未接听")
    task.refresh_from_db()
    assert task.channel == "phone"


def test_an_early_report_is_answered_503_and_other_organisations_are_out_of_reach(
    at_noon: datetime, patient_factory: Any, hospital: Any, community: Any
) -> None:
    theirs = ChannelConfig(channel="sms", provider="aliyun_sms", organisation=community)
    theirs.set_secrets({"access_key_id": "k", "access_key_secret": "s"})
    theirs.save()
    task = make_task(patient_factory(organisation=hospital), form="symptom_check")
    message = sent(task, "aliyun_sms", provider_id="903^0")
    report = [
        {
            "success": False,
            "err_code": "MK:0001",
            "err_msg": "空号",
            "biz_id": "903^0",
            "out_id": message.key,
        }
    ]
    assert post(callback_urls(theirs)["report"], report).status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.SENT  # the community's setting cannot touch it
    ours = config("aliyun_sms", "sms", access_key_id="k", access_key_secret="s")
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENDING)
    early = post(callback_urls(ours)["report"], report)
    assert early.status_code == 503  # Aliyun re-sends it later
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENT)
    assert post(callback_urls(ours)["report"], report).status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED


def test_wechat_xml_is_read_as_utf8_and_a_doctype_in_any_encoding_is_refused() -> None:
    from careloop.outreach.callbacks.base import CallbackError
    from careloop.outreach.callbacks.wechat import xml_fields

    plain = "<xml><MsgType><![CDATA[text]]></MsgType><Content>心慌</Content></xml>"
    assert xml_fields(plain.encode()) == {"MsgType": "text", "Content": "心慌"}
    entity = '<!DOCTYPE x [<!ENTITY a "b">]><xml><MsgType>&a;</MsgType></xml>'
    for body in (
        entity.encode(),
        entity.lower().encode(),
        entity.encode("utf-16"),  # a byte check of the raw body would miss this one
        entity.encode("utf-16-le"),  # no byte-order mark
        b'<?xml version="1.0" encoding="UTF-16"?>' + entity.encode("utf-16-le"),
    ):
        with pytest.raises(CallbackError):
            xml_fields(body)
