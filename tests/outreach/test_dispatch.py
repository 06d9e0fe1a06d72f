"""Due automated follow-ups become messages and are sent: consent, quiet hours, weekly cap,
retries and fallback, leases, replies with symptoms, opt-out, and the outbox pages."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from careloop.followup.models import Alert, FollowUpRecord, Task
from careloop.interop.webhook_models import WebhookEndpoint
from careloop.outreach import queueing, sending
from careloop.outreach.models import (
    AccessToken,
    ChannelAddress,
    ChannelConfig,
    Message,
    MessageTemplate,
    Reply,
)
from careloop.outreach.queueing import queue_due
from careloop.outreach.replies import receive
from careloop.outreach.sending import claim, send_due
from careloop.outreach.tasks import dispatch
from careloop.patients.models import ConsentRecord
from tests.outreach.conftest import ProviderServer
from tests.outreach.helpers import NOON, aliyun, make_task

pytestmark = pytest.mark.django_db


def test_a_reminder_goes_out_once_through_the_outbox_and_the_task_is_done(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    task = make_task(patient_factory(organisation=hospital, name="张桂英", sex="female"))
    assert queue_due().messages == 1
    assert queue_due().messages == 0  # the key is unique: a second run creates nothing
    message = Message.objects.get()
    assert message.key == f"task:{task.pk}:sms"
    assert message.provider == "outbox"
    assert message.body.startswith("张阿姨您好")
    assert message.body.endswith("回T退订")
    result = send_due()
    assert result.sent == 1
    message.refresh_from_db()
    task.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert task.status == Task.Status.DONE
    assert FollowUpRecord.objects.get(task=task).channel == "sms"
    assert send_due().results == {}


def test_reminders_closed_by_their_send_are_task_completed_events(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    hook = WebhookEndpoint.objects.create(
        name="平台", url="http://127.0.0.1:9/hook", organisation=hospital, events=["task.completed"]
    )
    sent = [make_task(patient_factory(organisation=hospital)) for _ in range(2)]
    queue_due()
    assert send_due().sent == 2
    events = hook.deliveries.order_by("pk")
    assert [d.payload["data"]["task"]["id"] for d in events] == [t.pk for t in sent]
    assert {d.payload["data"]["task"]["outcome"] for d in events} == {"reached"}
    assert {d.event for d in events} == {"task.completed"}


def test_a_queued_message_of_a_follow_up_done_meanwhile_is_not_sent(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    """Queued for later (quiet hours, a retry); the nurse reaches the patient by phone
    before it goes: it is cancelled, saying why, not sent asking what was answered."""
    done = make_task(patient_factory(organisation=hospital, name="邵玉静"))
    still = make_task(patient_factory(organisation=hospital, name="孙仍在"))
    assert queue_due().messages == 2
    Task.objects.filter(pk=done.pk).update(status=Task.Status.DONE, outcome="reached")
    assert send_due().sent == 1
    statuses = dict(Message.objects.values_list("task_id", "status"))
    assert statuses == {done.pk: "cancelled", still.pk: "delivered"}
    assert Message.objects.get(task=done).error == sending.MOOT


def test_a_batch_costs_the_same_queries_for_two_reminders_as_for_six(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    # Queueing loads only some fields of a task and its patient: reading any other one
    # would cost a query per task, and the count would grow with the batch.
    def batch(reminders: int) -> tuple[int, int]:
        for _ in range(reminders):
            make_task(patient_factory(organisation=hospital, phone="13800000000"))
        make_task(patient_factory(organisation=hospital), consent=False)  # passed on
        with CaptureQueriesContext(connection) as queueing:
            assert queue_due().messages == reminders
        with CaptureQueriesContext(connection) as sending:
            assert send_due().sent == reminders
        return len(queueing), len(sending)

    assert batch(2) == batch(6)
    assert Task.objects.filter(status=Task.Status.DONE).count() == 8


def test_the_round_claims_the_next_batch_while_one_waits_for_the_provider(
    provider: ProviderServer,
    at_noon: datetime,
    patient_factory: Any,
    hospital: Any,
    monkeypatch: Any,
) -> None:
    aliyun(provider)
    provider.answer = lambda seen: (200, {"Code": "OK", "BizId": seen.query["OutId"]})
    tasks = [make_task(patient_factory(organisation=hospital)) for _ in range(5)]
    steps: list[str] = []
    claim_next, record = sending.send_next, sending.finish

    def send_next(*args: Any, **kwargs: Any) -> Any:
        flight = claim_next(*args, **kwargs)
        steps.append(f"claim {len(flight.messages) if flight else 0}")
        return flight

    def finish(flight: Any, others: Any = ()) -> Any:
        steps.append(f"record {len(flight.messages)}")
        return record(flight, others)

    monkeypatch.setattr(sending, "send_next", send_next)
    monkeypatch.setattr(sending, "finish", finish)
    totals = dispatch(batch=2)
    # Each batch is recorded after the next one is claimed (and its requests sent off).
    assert steps == [
        *("claim 2", "claim 2", "record 2"),
        *("claim 1", "record 2"),
        *("claim 0", "record 1"),
        "claim 0",
    ]
    assert (totals["queued"], totals["sent"]) == (5, 5)
    sent = sorted(s.query["OutId"] for s in provider.seen)
    assert sent == sorted(f"task:{t.pk}:sms" for t in tasks)  # each once
    assert not Task.objects.filter(status=Task.Status.OPEN).exists()


def test_a_round_that_fails_records_the_batch_it_had_sent_first(
    provider: ProviderServer,
    at_noon: datetime,
    patient_factory: Any,
    hospital: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aliyun(provider)
    provider.answer = lambda seen: (200, {"Code": "OK", "BizId": seen.query["OutId"]})
    for _ in range(3):
        make_task(patient_factory(organisation=hospital))
    rounds: list[int] = []
    queue = queueing.queue_due

    def failing_second_time(**kwargs: Any) -> Any:
        rounds.append(1)
        if len(rounds) == 2:
            raise RuntimeError("database gone")
        return queue(**kwargs)

    monkeypatch.setattr(queueing, "queue_due", failing_second_time)
    with pytest.raises(RuntimeError, match="database gone"):
        dispatch(batch=2)
    # The batch claimed in the first round went out and is recorded, not left "sending"
    # to be sent again after its lease.
    assert sorted(Message.objects.values_list("status", flat=True)) == ["sent", "sent"]
    assert len(provider.seen) == 2


def test_the_address_is_the_phone_for_sms_and_the_openid_for_wechat(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    texted = patient_factory(organisation=hospital, phone="13700001111")
    sms = make_task(texted)
    follower = patient_factory(organisation=hospital)
    ChannelAddress.objects.create(patient=follower, channel="wechat", address="oPENID1")
    wechat = make_task(follower, channel="wechat")
    no_openid = make_task(patient_factory(organisation=hospital), channel="wechat")
    done = queue_due()
    assert (done.messages, done.passed_on) == (2, {"address": 1})
    assert dict(Message.objects.values_list("task_id", "to")) == {
        sms.pk: "13700001111",
        wechat.pk: "oPENID1",
    }
    no_openid.refresh_from_db()
    assert no_openid.channel == "phone"


def test_a_landline_takes_no_sms_and_the_task_moves_on_saying_why(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    """A task put on SMS before the patient's number became a landline (or by hand): no
    message to a landline; the follow-up moves to the next channel, a call."""
    landline = patient_factory(organisation=hospital, phone="010-62345678")
    task = make_task(landline)
    done = queue_due()
    assert (done.messages, done.passed_on) == (0, {"landline": 1})
    task.refresh_from_db()
    assert task.channel == "phone"
    assert not Message.objects.exists()
    behind = patient_factory(organisation=hospital, phone="010-62345678转123")
    voice = make_task(behind, channel="voice")
    assert queue_due().passed_on == {"landline": 1}  # a switchboard would hear the call
    voice.refresh_from_db()
    assert voice.channel == "phone"


def test_without_consent_the_task_moves_to_the_next_channel(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    task = make_task(patient_factory(organisation=hospital), consent=False)
    done = queue_due()
    assert done.messages == 0
    assert done.passed_on == {"consent": 1}
    task.refresh_from_db()
    assert task.channel == "phone"  # now on the nurse's worklist
    assert not Message.objects.exists()


def test_two_dispatchers_that_read_a_task_at_once_pass_it_on_once(
    at_noon: datetime, patient_factory: Any, hospital: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two workers (two machines) queue due follow-ups side by side and read the same task;
    # the first passes it on from SMS (no consent) to the nurse's phone call. The second,
    # acting on what it read, must not pass it on again: from the phone there is nothing
    # left, and the follow-up would be marked failed, gone from the worklist.
    task = make_task(patient_factory(organisation=hospital), consent=False)
    read_by_the_other = queueing.due_tasks(timezone.now(), 500)
    assert queue_due().passed_on == {"consent": 1}
    monkeypatch.setattr(queueing, "due_tasks", lambda now, limit: read_by_the_other)
    queue_due()
    task.refresh_from_db()
    assert (task.channel, task.status) == ("phone", Task.Status.OPEN)


def test_quiet_hours_defer_the_message(
    monkeypatch: pytest.MonkeyPatch, patient_factory: Any, hospital: Any
) -> None:
    night = timezone.make_aware(datetime(2026, 12, 3, 22, 30))
    monkeypatch.setattr(timezone, "now", lambda: night)
    patient = patient_factory(
        organisation=hospital, quiet_hours_start=time(21), quiet_hours_end=time(8)
    )
    make_task(patient).__class__.objects.update(
        due_at=night - timedelta(minutes=1), deadline=night + timedelta(days=2)
    )
    assert queue_due().deferred == 1
    message = Message.objects.get()
    assert timezone.localtime(message.next_try_at) == timezone.make_aware(
        datetime(2026, 12, 4, 8, 0)
    )
    assert send_due().results == {}  # nothing is due before 08:00


def test_the_weekly_cap_holds_further_messages(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    ChannelConfig.objects.create(channel="sms", provider="outbox", weekly_cap=1)
    patient = patient_factory(organisation=hospital)
    make_task(patient)
    queue_due()
    send_due()
    second = make_task(patient, consent=False)
    second.deadline = NOON + timedelta(days=10)
    second.save()
    assert queue_due().deferred == 1
    held = Message.objects.get(task=second)
    assert held.next_try_at >= NOON + timedelta(days=7)


@pytest.fixture
def busy_provider(provider: ProviderServer) -> ProviderServer:
    """Aliyun answering every send with a temporary error."""
    aliyun(provider)
    provider.answer = lambda _s: (200, {"Code": "isp.SYSTEM_ERROR", "Message": "busy"})
    return provider


def test_temporary_errors_retry_then_fall_back_to_the_next_channel(
    at_noon: datetime,
    patient_factory: Any,
    hospital: Any,
    busy_provider: ProviderServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task = make_task(patient_factory(organisation=hospital))
    queue_due()
    assert send_due().retry == 1
    message = Message.objects.get()
    assert (message.status, message.tries) == (Message.Status.QUEUED, 1)
    assert message.next_try_at == NOON + timedelta(minutes=1)
    later = NOON
    for _ in range(2):
        later = Message.objects.get().next_try_at
        monkeypatch.setattr(timezone, "now", lambda at=later: at)
        send_due()
    message.refresh_from_db()
    task.refresh_from_db()
    assert (message.status, message.tries) == (Message.Status.FAILED, 3)
    assert len(busy_provider.seen) == 3
    assert {s.query["OutId"] for s in busy_provider.seen} == {message.key}
    assert task.channel == "phone"


def test_failures_of_one_minute_retry_together_on_the_next_whole_minute(
    at_noon: datetime,
    patient_factory: Any,
    hospital: Any,
    busy_provider: ProviderServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for seconds in (20, 50):
        make_task(patient_factory(organisation=hospital))
        monkeypatch.setattr(timezone, "now", lambda s=seconds: NOON + timedelta(seconds=s))
        queue_due()
        assert send_due().retry == 1
    retry = NOON + timedelta(minutes=2)
    assert {m.next_try_at for m in Message.objects.all()} == {retry}
    busy_provider.answer = lambda _s: (200, {"Code": "OK", "Message": "OK", "BizId": "1"})
    monkeypatch.setattr(timezone, "now", lambda: retry - timedelta(seconds=1))
    assert send_due().sent == 0
    monkeypatch.setattr(timezone, "now", lambda: retry)
    assert send_due().sent == 2
    assert sending.retry_at(NOON, 1) == NOON + timedelta(minutes=1)  # already on the minute


def test_a_permanent_error_fails_at_once(
    at_noon: datetime, patient_factory: Any, hospital: Any, provider: ProviderServer
) -> None:
    aliyun(provider)
    provider.answer = lambda _s: (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "x"})
    task = make_task(patient_factory(organisation=hospital))
    queue_due()
    assert send_due().failed == 1
    task.refresh_from_db()
    assert task.channel == "phone"
    assert Message.objects.get().error_code == "isv.MOBILE_NUMBER_ILLEGAL"


def test_an_unapproved_provider_template_is_not_sent(
    at_noon: datetime, patient_factory: Any, hospital: Any, provider: ProviderServer
) -> None:
    aliyun(provider)
    from careloop.outreach.models import MessageTemplate

    MessageTemplate.objects.update(approved=False)
    make_task(patient_factory(organisation=hospital))
    assert queue_due().passed_on == {"template": 1}


def test_a_message_whose_worker_died_is_claimed_again_after_its_lease(
    monkeypatch: pytest.MonkeyPatch, at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    make_task(patient_factory(organisation=hospital))
    queue_due()
    _token, held = claim(10)
    assert len(held) == 1
    assert claim(10)[1] == []  # a second worker gets nothing while the lease runs
    monkeypatch.setattr(timezone, "now", lambda: NOON + timedelta(minutes=3))
    assert send_due().sent == 1
    message = Message.objects.get()
    assert (message.status, message.tries) == (Message.Status.DELIVERED, 1)


def test_a_reply_with_a_symptom_answers_the_task_and_raises_an_alert(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    task = make_task(patient_factory(organisation=hospital), form="symptom_check")
    queue_due()
    send_due()
    task.refresh_from_db()
    assert task.is_open  # a task with a form waits for the answer
    message = Message.objects.get()
    reply = receive("sms", "这两天心口疼，没有发烧", provider="outbox", message=message)
    assert reply.kind == Reply.Kind.ANSWER
    assert reply.symptoms == ["胸痛胸闷"]
    assert reply.negated == ["发热"]
    alert = Alert.objects.get(kind=Alert.Kind.REPLY)
    assert alert.severity == Alert.Severity.HIGH
    assert "胸痛胸闷" in alert.title
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert FollowUpRecord.objects.get(task=task).answers["reply_symptoms"] == ["胸痛胸闷"]


def test_self_harm_is_always_critical(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    patient = patient_factory(organisation=hospital, phone="13912345678")
    reply = receive("sms", "活着没意思，不想活了", provider="aliyun_sms", sender="13912345678")
    assert reply.patient == patient
    assert Alert.objects.get().severity == Alert.Severity.CRITICAL
    # Said again while that alert is open: linked to it, not a second alert.
    again = receive("sms", "不想活了", provider="aliyun_sms", sender="13912345678")
    assert again.alert == Alert.objects.get()
    assert "不想活了" in again.alert.events.get(action="note").note  # on its history


def test_opt_out_by_sms_withdraws_consent_and_nothing_more_is_sent(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    patient = patient_factory(organisation=hospital, phone="13700001111")
    make_task(patient)
    queue_due()
    later = make_task(patient, consent=False)
    reply = receive("sms", "T", provider="aliyun_sms", sender="13700001111")
    assert reply.kind == Reply.Kind.OPT_OUT
    assert Message.objects.get().status == Message.Status.CANCELLED
    assert (
        not ConsentRecord.objects.filter(patient=patient, channel="sms")
        .latest("recorded_at", "id")
        .granted
    )
    Message.objects.all().delete()
    assert queue_due().passed_on == {"consent": 2}
    later.refresh_from_db()
    assert later.channel == "phone"


def test_an_unknown_sender_and_an_unclear_reply_land_in_the_inbox(
    at_noon: datetime, patient_factory: Any, hospital: Any, bob: Any
) -> None:
    patient_factory(organisation=hospital, phone="13600002222")
    unknown = receive("sms", "你好", provider="aliyun_sms", sender="13099998888")
    unclear = receive(
        "sms", "我想问问下次什么时候去医院", provider="aliyun_sms", sender="13600002222"
    )
    assert (unknown.kind, unclear.kind) == (Reply.Kind.UNMATCHED, Reply.Kind.UNCLEAR)
    client = Client()
    client.force_login(bob)
    page = client.get("/outreach/inbox/").content.decode()
    assert "我想问问下次什么时候去医院" in page
    assert "你好" in page
    client.post(f"/outreach/inbox/{unclear.pk}/handled/")
    unclear.refresh_from_db()
    assert unclear.handled_by == bob


def test_staff_answer_as_the_patient_from_the_outbox(
    at_noon: datetime, patient_factory: Any, hospital: Any, alice: Any
) -> None:
    make_task(patient_factory(organisation=hospital), form="symptom_check")
    queue_due()
    send_due()
    message = Message.objects.get()
    client = Client()
    client.force_login(alice)
    page = client.get("/outreach/outbox/").content.decode()
    assert message.body in page
    response = client.post(f"/outreach/outbox/{message.pk}/answer/", {"text": "喘不上气"})
    assert response.status_code == 302
    assert Reply.objects.get().symptoms == ["呼吸困难"]
    assert Alert.objects.filter(kind=Alert.Kind.REPLY).count() == 1


def test_a_reply_runs_the_reply_rules_on_its_symptoms(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    from careloop.patients.models import PatientTag
    from careloop.rules.models import RuleFiring
    from careloop.rules.services import do_save_rule

    do_save_rule(
        None,
        "reply-swelling",
        {
            "name": "回复提到水肿或呼吸困难",
            "enabled": True,
            "trigger": "reply",
            "condition": {
                "any": [
                    {"kind": "symptom", "symptom": "水肿"},
                    {"kind": "symptom", "symptom": "呼吸困难"},
                ]
            },
            "actions": [{"type": "tag", "tag": "心衰加重风险"}],
        },
    )
    patient = patient_factory(organisation=hospital, phone="13912345678")
    receive("sms", "没有水肿，挺好的", provider="aliyun_sms", sender="13912345678")
    assert not RuleFiring.objects.exists()  # said absent: the rule does not fire
    receive("sms", "这两天脚肿了", provider="aliyun_sms", sender="13912345678")
    firing = RuleFiring.objects.get()
    assert (firing.patient_id, firing.trigger) == (patient.pk, "reply")
    assert "回复中提到水肿" in " ".join(firing.reasons)
    assert PatientTag.objects.filter(patient=patient, tag__name="心衰加重风险").exists()


def test_a_questionnaire_task_sends_a_link_and_the_patients_answer_completes_it(
    at_noon: datetime, patient_factory: Any, hospital: Any, settings: Any
) -> None:
    from careloop.questionnaires.services import load_pack

    settings.CARELOOP_PUBLIC_URL = "https://followup.h1.example.cn"
    load_pack()
    patient = patient_factory(organisation=hospital, name="郑淑珍", sex="female")
    task = make_task(patient, form="symptom_check")
    Task.objects.filter(pk=task.pk).update(questionnaire="discharge-symptoms")
    queue_due()
    message = Message.objects.get()
    assert message.link.startswith("https://followup.h1.example.cn/p/")
    assert message.body.endswith(f"请点击填写：{message.link}回T退订")
    send_due()
    task.refresh_from_db()
    assert task.is_open  # sent is not answered
    client = Client()
    path = message.link.removeprefix("https://followup.h1.example.cn")
    client.post(f"{path}check/", {"answer": "1960-05-01"})
    page = client.get(path, follow=True)
    assert "最近有没有胸痛、胸闷？" in page.content.decode()
    client.post(
        page.redirect_chain[-1][0],
        {"chest_pain": "no", "dyspnoea": "no", "oedema": "no", "medication": "regular"},
    )
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    record = FollowUpRecord.objects.get(task=task)
    assert (record.channel, record.answers["questionnaire"]) == ("app", "discharge-symptoms")


def test_a_message_cancelled_by_an_opt_out_says_so_in_the_users_language(
    at_noon: datetime, patient_factory: Any, hospital: Any, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital, phone="13700001112")
    make_task(patient)
    queue_due()
    receive("sms", "T", provider="aliyun_sms", sender="13700001112")
    assert Message.objects.get().error == Message.OPTED_OUT  # stored as written
    client = Client()
    client.force_login(alice)
    chinese = client.get("/outreach/outbox/?status=cancelled").content.decode()
    assert "患者已退订该渠道" in chinese
    english = client.get(
        "/outreach/outbox/?status=cancelled", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "The patient opted out of this channel" in english
    assert "患者已退订该渠道" not in english


def test_a_message_of_a_closed_follow_up_says_so_in_the_users_language(
    at_noon: datetime, patient_factory: Any, hospital: Any, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital, phone="13700001113")
    task = make_task(patient)
    queue_due()
    Task.objects.filter(pk=task.pk).update(status=Task.Status.CANCELLED)
    dispatch()
    assert Message.objects.get().error == Message.TASK_CLOSED  # stored as written
    client = Client()
    client.force_login(alice)
    english = client.get(
        "/outreach/outbox/?status=cancelled", HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "The follow-up was closed; not sent" in english and "随访任务已结束" not in english


def _wechat_with_an_expired_token(
    provider: ProviderServer, hospital: Any, patient_factory: Any, patients: int
) -> None:
    """A WeChat channel whose stored token ("OLD") the provider has expired, an approved
    template, and a due follow-up for each of ``patients`` patients with an openid."""
    row = ChannelConfig(
        channel="wechat", provider="wechat_mp", settings={"app_id": "wx1", "api": provider.url}
    )
    row.set_secrets({"app_secret": "s3"})
    row.save()
    MessageTemplate.objects.create(
        purpose="revisit_reminder",
        channel="wechat",
        name="复诊提醒",
        body="{{ salutation }}您好，请按时复诊。",
        provider_template="TPL",
        params={"thing1": "{{ salutation }}"},
        approved=True,
    )
    AccessToken.objects.create(name="wechat:wx1", token="OLD", expires_at=NOON + timedelta(hours=1))
    for n in range(patients):
        patient = patient_factory(organisation=hospital)
        ChannelAddress.objects.create(patient=patient, channel="wechat", address=f"oOPEN{n}")
        make_task(patient, channel="wechat")


@pytest.mark.parametrize("offered", ["/cgi-bin/stable_token", "/cgi-bin/token"])
def test_an_expired_wechat_token_is_renewed_once_in_a_batch_and_the_messages_go_out(
    at_noon: datetime,
    patient_factory: Any,
    hospital: Any,
    provider: ProviderServer,
    offered: str,
) -> None:
    """WeChat answers 42001 "access_token expired" (40001 / 40014 alike): a new token is
    fetched (once for the whole batch, in its event loop, without the database) and each
    message is sent once more with it; the new token is kept for the next batches. From
    /cgi-bin/token when the server has no /cgi-bin/stable_token (a hospital's gateway)."""
    _wechat_with_an_expired_token(provider, hospital, patient_factory, patients=3)

    def answer(seen: Any) -> tuple[int, object]:
        if seen.path in ("/cgi-bin/stable_token", "/cgi-bin/token"):
            if seen.path != offered:
                return 404, b"Not Found"
            return 200, {"access_token": "NEW", "expires_in": 7200}
        if seen.query["access_token"] == "OLD":
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}

    provider.answer = answer
    queue_due()
    assert send_due().sent == 3
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}
    assert [s.path for s in provider.seen].count(offered) == 1
    if offered == "/cgi-bin/token":  # the older endpoint: GET, the credentials in the query
        (asked,) = [s for s in provider.seen if s.path == offered]
        assert (asked.method, asked.query) == (
            "GET",
            {"grant_type": "client_credential", "appid": "wx1", "secret": "s3"},
        )
    sends = [s.query["access_token"] for s in provider.seen if s.path.startswith("/cgi-bin/m")]
    assert sorted(sends) == ["NEW"] * 3 + ["OLD"] * 3
    assert AccessToken.objects.get(name="wechat:wx1").token == "NEW"


def test_a_wechat_token_that_cannot_be_renewed_is_asked_for_once_in_a_batch(
    at_noon: datetime, patient_factory: Any, hospital: Any, provider: ProviderServer
) -> None:
    """Every message of a batch is refused with the expired token and the token endpoint is
    busy: the renewal is tried once, not once more for each message (WeChat counts token
    calls, and each may wait out its timeout); the messages wait for their next try and the
    dead token is not kept."""
    _wechat_with_an_expired_token(provider, hospital, patient_factory, patients=4)

    def answer(seen: Any) -> tuple[int, object]:
        if seen.path == "/cgi-bin/stable_token":
            return 200, {"errcode": -1, "errmsg": "system error"}
        return 200, {"errcode": 42001, "errmsg": "access_token expired"}

    provider.answer = answer
    queue_due()
    assert send_due().sent == 0
    assert [s.path for s in provider.seen].count("/cgi-bin/stable_token") == 1
    messages = Message.objects.all()
    assert {(m.status, m.error_code) for m in messages} == {(Message.Status.QUEUED, "-1")}
    assert not AccessToken.objects.filter(name="wechat:wx1").exists()


def test_the_outbox_names_the_provider_in_the_pages_language(
    at_noon: datetime, patient_factory: Any, hospital: Any, alice: Any
) -> None:
    """Under each message's channel the outbox showed the provider's code ("outbox") on
    the Chinese page."""
    make_task(patient_factory(organisation=hospital), form="symptom_check")
    queue_due()
    send_due()
    assert Message.objects.get().provider == "outbox"
    client = Client()
    client.force_login(alice)
    page = client.get("/outreach/outbox/").content.decode()
    assert '<div class="small text-secondary">站内发件箱</div>' in page
    assert ">outbox<" not in page
    english = client.get("/outreach/outbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<div class="small text-secondary">Built-in outbox</div>' in english


def test_a_reminder_closed_by_its_send_is_one_attempt_in_the_cost_per_follow_up(
    at_noon: datetime, patient_factory: Any, hospital: Any, bob: Any, settings: Any
) -> None:
    from careloop.analytics import metrics
    from careloop.analytics.scope import parse_scope

    settings.CARELOOP_CHANNEL_COSTS = {"sms": 0.05, "phone": 1.5}
    task = make_task(patient_factory(organisation=hospital))  # a reminder: no form
    queue_due()
    assert send_due().sent == 1
    task.refresh_from_db()
    assert task.status == Task.Status.DONE  # closed by its send, with a record saying so
    assert FollowUpRecord.objects.filter(task=task, by__isnull=True).count() == 1

    scope = parse_scope(bob, {"from": "2026-12-01", "to": "2026-12-31"})
    sms = {f.key: f for f in metrics.costs_by_channel(scope)}["cost_per_followup:sms"]
    assert (sms.value, sms.extra["attempts"]) == (0.05, 1)  # the message, not it and its record
    assert metrics.cost(scope).value == 0.05
    rates = {f.key: f for f in metrics.connect_rates(scope)}
    assert {p.key: p.count for p in rates["connect_rate:sms"].parts} == {
        "attempts:sms": 1,
        "connected:sms": 1,
    }


def test_an_opt_out_from_a_family_phone_stops_every_patient_on_that_number(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    husband = patient_factory(organisation=hospital, phone="13700002222")
    wife = patient_factory(organisation=hospital, phone="13700002222")
    make_task(husband)
    make_task(wife)
    queue_due()
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 2
    reply = receive("sms", "退订", provider="aliyun_sms", sender="13700002222")
    assert reply.kind == Reply.Kind.OPT_OUT
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.CANCELLED}
    for patient in (husband, wife):
        latest = ConsentRecord.objects.filter(patient=patient, channel="sms", purpose="followup")
        assert not latest.latest("recorded_at", "id").granted


def test_answers_to_the_patients_questions_do_not_count_against_the_weekly_cap(
    at_noon: datetime, patient_factory: Any, hospital: Any
) -> None:
    ChannelConfig.objects.create(channel="sms", provider="outbox", weekly_cap=1)
    patient = patient_factory(organisation=hospital)
    Message.objects.create(
        organisation=hospital,
        patient=patient,
        key="answer:1",
        channel="sms",
        provider="outbox",
        purpose="faq_answer",
        body="您好，门诊复查可以使用医保卡结算",
        status=Message.Status.SENT,
        sent_at=NOON - timedelta(hours=2),
    )
    task = make_task(patient)
    assert queue_due().deferred == 0
    assert Message.objects.get(task=task).next_try_at <= NOON
