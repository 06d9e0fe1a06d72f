"""Automated calls through the hospital's FreeSWITCH: the call placed over a real event
socket (a local one that checks the login and keeps the command), then run by our IVR as
``mod_httapi`` would, over HTTP: a whole questionnaire by keypad with its skip logic, a
message read with keypad answers, an unanswered call and one hung up half-way."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client

from careloop.followup.models import Alert, Task
from careloop.outreach.models import ChannelConfig, Message, ProviderCallback, Reply, VoiceCall
from careloop.outreach.queueing import queue_due
from careloop.outreach.receiving import callback_urls
from careloop.outreach.sending import send_due
from careloop.outreach.transports import ConfigError, Outgoing, TransportError
from careloop.outreach.transports.freeswitch import FreeswitchVoice
from careloop.patients.models import ConsentRecord
from careloop.questionnaires.models import QuestionnaireResponse
from careloop.questionnaires.services import do_save_questionnaire, load_pack
from tests.outreach.esl_server import EslServer, free_port
from tests.outreach.helpers import NOON

pytestmark = pytest.mark.django_db

SETTINGS = {
    "esl_host": "127.0.0.1",
    "gateway": "cucc",
    "show_number": "01088886666",
    "tts_engine": "unimrcp",
    "tts_voice": "xiaoyun",
}


@pytest.fixture
def esl() -> Iterator[EslServer]:
    server = EslServer(password="s3cret")
    yield server
    server.close()


def freeswitch(esl: EslServer) -> ChannelConfig:
    row = ChannelConfig(
        channel="voice", provider="freeswitch_voice", settings={**SETTINGS, "esl_port": esl.port}
    )
    row.set_secrets({"esl_password": "s3cret"})
    row.save()
    return row


YES_NO = [{"value": "no", "label": "没有"}, {"value": "yes", "label": "有"}]


def voice_task(patient: Any, questionnaire: str = "", **fields: Any) -> Task:
    ConsentRecord.objects.create(
        patient=patient,
        purpose="followup",
        channel="voice",
        granted=True,
        recorded_at=NOON - timedelta(days=1),
    )
    return Task.objects.create(
        patient=patient,
        organisation=patient.organisation,
        title="出院后症状问询",
        purpose="condition_tracking",
        channel="voice",
        channels=["voice", "phone"],
        questionnaire=questionnaire,
        due_at=NOON - timedelta(minutes=5),
        deadline=NOON + timedelta(days=2),
        **fields,
    )


def voice_message(task: Task, body: str, **fields: Any) -> Message:
    """``task``'s message, sent through FreeSWITCH (unless ``status`` says otherwise)."""
    sent = {"status": Message.Status.SENT, "sent_at": NOON}
    if fields.get("status", Message.Status.SENT) != Message.Status.SENT:
        sent = {}
    return Message.objects.create(
        organisation=task.organisation,
        patient=task.patient,
        task=task,
        key=f"task:{task.pk}:voice",
        channel="voice",
        provider="freeswitch_voice",
        body=body,
        **{**sent, **fields},
    )


def placed(esl: EslServer) -> dict[str, str]:
    """The call the event socket was asked to place: its parts."""
    [command] = esl.commands
    found = re.fullmatch(
        r"bgapi originate \{(?P<vars>.*)\}sofia/gateway/(?P<gateway>\w+)/(?P<number>\d+) "
        r"&httapi\(\{url=(?P<url>[^,]+),method=POST,careloop_key=(?P<key>[^}]+)\}\)",
        command,
    )
    assert found, command
    hook = re.search(
        r"api_hangup_hook='curl (\S+) post careloop_key=([^&]+)&call_id=(\S+)'", command
    )
    assert hook, command
    uuid = re.search(r"origination_uuid=([0-9a-f-]{36})", command)
    assert uuid
    return {
        **found.groupdict(),
        "hangup": hook.group(1),
        "hook_key": hook.group(2),
        "hook_call": hook.group(3),
        "uuid": uuid.group(1),
    }


def dialled(esl: EslServer, patient: Any, questionnaire: str) -> tuple[Task, dict[str, str]]:
    """A due follow-up with ``questionnaire`` on the voice channel, sent by the worker: the
    task and the call placed."""
    load_pack()
    freeswitch(esl)
    task = voice_task(patient, questionnaire)
    queue_due()
    assert send_due().sent == 1
    return task, placed(esl)


class Call:
    """FreeSWITCH's side of one answered call: it posts each step's keys, reads our XML,
    and posts back on every later request the params a document set (``<params>``; the
    call's params, made from the app's {…}, keep every value set, the newest last). As
    mod_httapi does, keys the last question's ``<bind>`` does not match are not posted."""

    def __init__(self, url: str, key: str) -> None:
        self.path, self.key, self.client = urlsplit(url).path, key, Client()
        self.params: dict[str, list[str]] = {}
        self.sent: dict[str, Any] = {}
        self.bind: ET.Element | None = None

    def step(self, **form: str) -> list[ET.Element]:
        if "answer" in form and self.bind is not None:
            pressed = form["answer"] + (self.bind.get("strip") or "")
            if not re.fullmatch((self.bind.text or "").removeprefix("~"), pressed):
                form = {k: v for k, v in form.items() if k not in ("answer", "input_type")}
        params = {name: list(values) for name, values in self.params.items()}
        self.sent = {"session_id": "b7c1", "careloop_key": self.key, **params, **form}
        return self._post(self.sent)

    def again(self) -> list[ET.Element]:
        """The last request sent once more, as it was (an HTTP retry)."""
        return self._post(self.sent)

    def _post(self, form: dict[str, Any]) -> list[ET.Element]:
        response = self.client.post(self.path, form)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/xml")
        root = ET.fromstring(response.content)  # noqa: S314 (our own answer)
        assert root.tag == "document" and root.get("type") == "xml/freeswitch-httapi"
        for param in root.findall("params/*"):
            self.params.setdefault(param.tag, []).append(param.text or "")
        self.bind = root.find("work/speak[@name='answer']/bind")
        work = root.find("work")
        assert work is not None
        return list(work)


def asked(work: list[ET.Element]) -> tuple[str, str]:
    """(the words of the question asked last, the keys it takes)."""
    speak = work[-1]
    assert speak.tag == "speak" and speak.get("name") == "answer", ET.tostring(speak)
    assert (speak.get("engine"), speak.get("voice")) == ("unimrcp", "xiaoyun")
    bind = speak.find("bind")
    assert bind is not None
    return speak.get("text") or "", bind.text or ""


def said(work: list[ET.Element]) -> str:
    return "".join(e.get("text") or "" for e in work if e.tag == "speak")


def test_a_due_questionnaire_is_answered_whole_by_keypad_on_a_freeswitch_call(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    load_pack()
    freeswitch(esl)
    patient = patient_factory(organisation=hospital, phone="13600004444")
    task = voice_task(patient, "discharge-symptoms")
    queue_due()
    assert send_due().sent == 1
    assert esl.logins == ["s3cret"]
    message = Message.objects.get()
    assert (message.status, message.provider) == (Message.Status.SENT, "freeswitch_voice")
    call = placed(esl)
    assert (call["gateway"], call["number"], call["key"]) == ("cucc", "13600004444", message.key)
    assert call["uuid"] == message.provider_id == call["hook_call"]
    assert call["hook_key"] == message.key
    assert "origination_caller_id_number=01088886666" in esl.commands[0]
    row = ChannelConfig.objects.get()
    assert urlsplit(call["url"]).path == callback_urls(row)["ivr"]
    assert urlsplit(call["hangup"]).path == callback_urls(row)["hangup"]

    phone = Call(call["url"], call["key"])
    work = phone.step()
    assert said(work).startswith("您好，这里是")
    assert "随访中心。请您用电话按键回答“出院后症状问询”的几个问题。请根据您出院以来" in said(work)
    assert asked(work) == ("最近有没有胸痛、胸闷？没有请按1；有请按2。", "~[0-9*#]")
    # 有 → the pain score is asked (skip logic), a 0–10 scale ended with #.
    text, keys = asked(phone.step(answer="2", input_type="dtmf"))
    assert text.startswith("胸痛程度（0分不痛，10分最痛）。请用按键输入0到10之间的数字")
    assert keys == "~[0-9*]+#"
    assert asked(phone.step(answer="11"))[0].startswith(
        "您输入的是11，须在 0–10 之间。请再说一次。胸痛程度"
    )
    assert asked(phone.step(answer="8"))[0].startswith("有没有气短、喘不上气？")
    assert asked(phone.step(answer="1"))[0].startswith("脚踝或小腿有没有水肿？")
    weight, keys = asked(phone.step(answer="1"))
    assert "小数点请按星号键" in weight and "20到300kg之间的" in weight
    assert asked(phone.step(answer="65*5"))[0].startswith("是否按医嘱服药？")
    assert not QuestionnaireResponse.objects.exists()  # only once all is answered
    end = phone.step(answer="1")
    assert [e.tag for e in end] == ["speak", "hangup"]
    assert "医护人员会尽快与您联系" in said(end)

    response = QuestionnaireResponse.objects.get()
    assert response.source == QuestionnaireResponse.Source.VOICE
    assert response.answers == {
        "chest_pain": "yes",
        "chest_pain_score": 8,
        "dyspnoea": "no",
        "oedema": "no",
        "weight_kg": 65.5,
        "medication": "regular",
    }
    alert = Alert.objects.get(patient=patient)
    assert alert.severity == "critical" and response.alert == alert
    task.refresh_from_db()
    assert (task.status, task.outcome) == (Task.Status.DONE, "reached")
    assert VoiceCall.objects.get().status == VoiceCall.Status.ANSWERED
    # Every request the switch made is stored before it was read.
    assert ProviderCallback.objects.filter(kind="ivr").count() == 8

    # The call ends: answered, so delivered.
    assert (
        phone.client.post(
            urlsplit(call["hangup"]).path,
            {"careloop_key": call["hook_key"], "call_id": call["hook_call"]},
        ).content
        == b"OK"
    )
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_an_optional_question_left_without_keys_is_passed_over_and_a_wrong_key_asked_again(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    load_pack()
    freeswitch(esl)
    voice_task(patient_factory(organisation=hospital), "discharge-symptoms")
    queue_due()
    send_due()
    call = placed(esl)
    phone = Call(call["url"], call["key"])
    phone.step()
    text, keys = asked(phone.step(answer="7"))  # not one of 1–2
    assert text.startswith("您按的键不在选项中。请再说一次。最近有没有胸痛、胸闷？")
    assert keys == "~[0-9*#]"
    assert asked(phone.step(answer="1"))[0].startswith("有没有气短")  # 没有: no pain score
    phone.step(answer="1")
    phone.step(answer="1")  # 水肿: no; then the weight, optional
    assert asked(phone.step())[0].startswith("是否按医嘱服药？")  # no keys: passed over
    phone.step(answer="3")
    response = QuestionnaireResponse.objects.get()
    assert "weight_kg" not in response.answers and response.answers["medication"] == "stopped"


def test_three_unusable_answers_end_the_call_and_the_follow_up_stays_open(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer, alice: Any
) -> None:
    task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    phone = Call(call["url"], call["key"])
    assert asked(phone.step())[1] == "~[0-9*#]"
    phone.step()
    phone.step(answer="invalid", input_type="invalid")
    end = phone.step()
    assert [e.tag for e in end] == ["speak", "hangup"]
    assert "稍后医护人员会与您联系" in said(end)
    assert VoiceCall.objects.get().status == VoiceCall.Status.GAVE_UP
    assert not QuestionnaireResponse.objects.exists()
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN
    # Whatever the switch asks afterwards, the call is over.
    assert [e.tag for e in phone.step(answer="1")] == ["hangup"]
    # The outbox tells the nurse how the call went.
    staff = Client()
    staff.force_login(alice)
    page = staff.get("/outreach/outbox/").content.decode()
    assert 'data-testid="voice-call">通话： 按键无法识别，已结束' in page


def test_a_positive_ninth_phq9_answer_is_told_where_to_turn_and_raises_a_critical_alert(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    load_pack()
    freeswitch(esl)
    patient = patient_factory(organisation=hospital)
    voice_task(patient, "phq9")
    queue_due()
    send_due()
    call = placed(esl)
    phone = Call(call["url"], call["key"])
    phone.step()
    for _ in range(8):
        phone.step(answer="1")
    end = phone.step(answer="3")
    assert "12356" in said(end)
    assert QuestionnaireResponse.objects.get().total == 2
    assert Alert.objects.get(patient=patient).severity == "critical"
    # The last answer sent again (its answer lost on the way): told again, stored once.
    again = phone.again()
    assert "12356" in said(again) and [e.tag for e in again] == ["speak", "hangup"]
    assert QuestionnaireResponse.objects.count() == 1 and Alert.objects.count() == 1


def test_an_unanswered_call_fails_its_message_and_the_follow_up_moves_to_the_phone(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    # No IVR request came: the call rang out. Its hang-up hook posts.
    response = Client().post(
        urlsplit(call["hangup"]).path, {"careloop_key": call["key"], "call_id": call["uuid"]}
    )
    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.status, message.error) == (Message.Status.FAILED, "未接听")
    task.refresh_from_db()
    assert task.channel == "phone"
    stored = ProviderCallback.objects.get(kind="hangup")
    assert (stored.status, stored.reports) == (ProviderCallback.Status.PROCESSED, 1)


def test_a_hang_up_that_comes_while_the_send_is_recorded_waits_for_it(
    at_noon: datetime,
    patient_factory: Any,
    hospital: Any,
    esl: EslServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from careloop.outreach import ivr_views

    row = freeswitch(esl)
    task = voice_task(patient_factory(organisation=hospital), "phq9")
    message = voice_message(task, "您好", status=Message.Status.SENDING)
    waits: list[float] = []

    def recorded_meanwhile(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            Message.objects.filter(pk=message.pk).update(status=Message.Status.SENT)

    monkeypatch.setattr(ivr_views.time, "sleep", recorded_meanwhile)
    Client().post(callback_urls(row)["hangup"], {"careloop_key": message.key})
    assert waits == [0.2, 0.5]
    message.refresh_from_db()
    assert (message.status, message.error) == (Message.Status.FAILED, "未接听")
    assert ProviderCallback.objects.get(kind="hangup").status == ProviderCallback.Status.PROCESSED


def test_a_call_hung_up_half_way_keeps_its_answers_and_stores_no_response(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    phone = Call(call["url"], call["key"])
    phone.step()
    phone.step(answer="2")
    gone = phone.client.post(
        phone.path, {"session_id": "b7c1", "careloop_key": call["key"], "exiting": "true"}
    )
    assert gone.content == b"OK"
    voice = VoiceCall.objects.get()
    assert (voice.status, voice.answers) == (VoiceCall.Status.HUNG_UP, {"q1": "1"})
    assert voice.ended_at is not None
    assert not QuestionnaireResponse.objects.exists()
    Client().post(urlsplit(call["hangup"]).path, {"careloop_key": call["key"]})
    assert Message.objects.get().status == Message.Status.DELIVERED  # it was answered
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN  # the questionnaire still waits


def test_a_message_with_keypad_answers_is_read_and_the_key_received_as_the_reply(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    row = freeswitch(esl)
    patient = patient_factory(organisation=hospital)
    task = voice_task(patient, form="symptom_check")
    message = voice_message(
        task,
        "张阿姨您好，这里是随访中心，请问您出院后身体怎么样？",
        keys={"1": "没有不舒服", "2": "有胸闷"},
    )
    phone = Call(callback_urls(row)["ivr"], message.key)
    work = phone.step()
    assert work[0].get("text") == message.body
    assert asked(work) == ("没有不舒服请按1；有胸闷请按2；人工服务请按0。", "~[0-9*#]")
    assert asked(phone.step(answer="5"))[0].startswith("您按的键不在选项中。")
    end = phone.step(answer="2")
    assert [e.tag for e in end] == ["speak", "hangup"]
    reply = Reply.objects.get()
    assert (reply.text, reply.symptoms, reply.task) == ("有胸闷", ["胸痛胸闷"], task)
    assert Alert.objects.filter(patient=patient, kind=Alert.Kind.REPLY).exists()
    assert VoiceCall.objects.get().status == VoiceCall.Status.DONE


def test_the_ivr_answers_only_its_own_setting_with_the_right_token(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    row = freeswitch(esl)
    url = callback_urls(row)["ivr"]
    client = Client()
    assert client.post(url.replace(url.split("/")[-3], "0" * 32), {}).status_code == 404
    other = ChannelConfig(channel="sms", provider="outbox", settings={})
    other.save()
    assert client.post(url.replace(f"/{row.pk}/", f"/{other.pk}/"), {}).status_code == 404
    # An unknown message: the call is ended, nothing else happens.
    work = Call(url, "task:999999:voice").step()
    assert [e.tag for e in work] == ["hangup"]
    assert not VoiceCall.objects.exists()


# -- the event socket ------------------------------------------------------------------------


def outgoing(key: str = "task:7:voice", to: str = "13600005555") -> Outgoing:
    return Outgoing(key=key, to=to, text="您好")


def bound(settings: dict[str, Any], secrets: dict[str, str]) -> FreeswitchVoice:
    transport = FreeswitchVoice(settings, secrets)
    transport.bind("http://care.example/outreach/ivr/", "http://care.example/outreach/hangup/")
    return transport


def test_a_landline_is_dialled_as_its_digits_and_the_answer_is_the_call_uuid(
    esl: EslServer,
) -> None:
    transport = bound({**SETTINGS, "esl_port": esl.port}, {"esl_password": "s3cret"})
    receipt = transport.send(outgoing(to="010-62345678"))
    call = placed(esl)
    assert call["number"] == "01062345678" and call["uuid"] == receipt.provider_id
    assert call["url"] == "http://care.example/outreach/ivr/"
    assert "originate_timeout=45" in esl.commands[0]


def test_a_wrong_password_is_permanent_and_an_unreachable_switch_temporary(
    esl: EslServer,
) -> None:
    with pytest.raises(TransportError) as refused:
        bound({**SETTINGS, "esl_port": esl.port}, {"esl_password": "wrong"}).send(outgoing())
    assert refused.value.permanent and refused.value.code == "auth"
    assert esl.commands == []
    with pytest.raises(TransportError) as down:
        bound({**SETTINGS, "esl_port": free_port()}, {"esl_password": "s3cret"}).send(outgoing())
    assert not down.value.permanent


def test_a_refused_originate_is_temporary(esl: EslServer) -> None:
    esl.answer = "-ERR NORMAL_TEMPORARY_FAILURE"
    transport = bound({**SETTINGS, "esl_port": esl.port}, {"esl_password": "s3cret"})
    with pytest.raises(TransportError) as refused:
        transport.send(outgoing())
    assert not refused.value.permanent and "NORMAL_TEMPORARY_FAILURE" in str(refused.value)


def test_settings_that_would_break_the_originate_string_are_refused() -> None:
    with pytest.raises(ConfigError, match="gateway"):
        FreeswitchVoice({**SETTINGS, "gateway": "a,b"}, {"esl_password": "x"})
    with pytest.raises(ConfigError, match="tts_engine"):
        FreeswitchVoice({**SETTINGS, "tts_engine": ""}, {"esl_password": "x"})
    with pytest.raises(ConfigError, match="callback"):
        FreeswitchVoice(SETTINGS, {"esl_password": "x"}).send(outgoing())


def test_a_due_follow_up_without_a_template_is_read_in_words_meant_to_be_heard(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    """No voice template: the built-in words for a call — no link read out, no "reply in
    writing" — and its keys; the key pressed is the reply (one the system cannot read
    goes to the staff inbox)."""
    freeswitch(esl)
    patient = patient_factory(organisation=hospital, name="王建国", sex="M")
    task = voice_task(patient)
    queue_due()
    assert send_due().sent == 1
    message = Message.objects.get()
    assert "http" not in message.body and "回复" not in message.body
    assert message.body.endswith("随访中心：出院后症状问询。请问您最近身体怎么样？")
    call = placed(esl)
    phone = Call(call["url"], call["key"])
    work = phone.step()
    assert work[0].get("text") == message.body
    assert asked(work) == ("没有不舒服请按1；有不舒服，请联系我请按2；人工服务请按0。", "~[0-9*#]")
    phone.step(answer="2")
    reply = Reply.objects.get()
    assert (reply.text, reply.patient, reply.message) == ("有不舒服，请联系我", patient, message)
    assert reply.handled_at is None  # waits in the staff inbox
    task.refresh_from_db()
    assert task.status == Task.Status.DONE  # the reminder was done by the call, as by an SMS


def test_params_posted_in_the_query_string_are_read_and_stored(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    # Older mod_httapi releases append their params to the URL even for method=POST (an
    # empty body); later ones post them as a form. Either way the keys are read and kept.
    _task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    path, client = urlsplit(call["url"]).path, Client()
    first = client.post(f"{path}?{urlencode({'session_id': 'b7c1', 'careloop_key': call['key']})}")
    assert first.status_code == 200 and b"speak" in first.content
    query = urlencode({"session_id": "b7c1", "careloop_key": call["key"], "answer": "2"})
    client.post(f"{path}?{query}", content_type="application/x-www-form-urlencoded")
    assert VoiceCall.objects.get().answers == {"q1": "1"}
    stored = ProviderCallback.objects.filter(kind="ivr").order_by("pk").last()
    assert stored is not None and b"answer=2" in stored.raw


def test_a_step_sent_twice_is_answered_once_and_no_question_is_skipped(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    # A request retried (a proxy, a dropped answer) comes again with the keys of a question
    # already answered: they are not taken as the next question's answer.
    _task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    phone = Call(call["url"], call["key"])
    first = asked(phone.step())
    second = asked(phone.step(answer="2"))
    assert second[0] != first[0]
    assert asked(phone.again()) == second  # the second question, asked again as it was
    assert VoiceCall.objects.get().answers == {"q1": "1"}
    phone.step(answer="7")  # not a choice: asked again, one try counted
    assert asked(phone.again())[0] == second[0]  # its retry counts none
    assert VoiceCall.objects.get().tries == 1
    phone.step(answer="3")
    assert VoiceCall.objects.get().answers == {"q1": "1", "q2": "2"}


def test_a_gateway_down_or_unknown_is_refused_before_the_call_is_placed(
    esl: EslServer,
) -> None:
    # FreeSWITCH refuses such a call before it has a channel: bgapi still answers +OK and no
    # hang-up hook ever comes, so the message would stay "sent" for good.
    transport = bound({**SETTINGS, "esl_port": esl.port}, {"esl_password": "s3cret"})
    esl.gateways["cucc"] = "DOWN"
    with pytest.raises(TransportError) as down:
        transport.send(outgoing())
    assert (down.value.permanent, down.value.code) == (False, "gateway_down")
    del esl.gateways["cucc"]
    with pytest.raises(TransportError) as unknown:
        transport.send(outgoing())
    assert (unknown.value.permanent, unknown.value.code) == (True, "gateway")
    assert esl.commands == []  # no call placed
    assert esl.apis == ["sofia status gateway cucc"] * 2
    esl.gateways["cucc"] = "UP"
    assert transport.send(outgoing()).provider_id == placed(esl)["uuid"]


def test_a_follow_up_closed_while_the_phone_rang_is_not_asked_again(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    # The patient answered on their page (or a nurse closed the task) after the call was
    # placed: the questionnaire is not asked a second time, nor stored twice.
    task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)
    work = Call(call["url"], call["key"]).step()
    assert [e.tag for e in work] == ["speak", "hangup"]
    assert "无需您再回答" in said(work)
    assert VoiceCall.objects.get().status == VoiceCall.Status.DONE
    assert not QuestionnaireResponse.objects.exists()


def test_an_address_the_event_socket_does_not_admit_is_a_permanent_error(
    esl: EslServer,
) -> None:
    # The event socket admits only loopback unless its apply-inbound-acl says otherwise: it
    # greets any other address with a rude rejection, a setting to fix, not a passing fault.
    esl.admitted = False
    transport = bound({**SETTINGS, "esl_port": esl.port}, {"esl_password": "s3cret"})
    with pytest.raises(TransportError) as refused:
        transport.send(outgoing())
    assert (refused.value.permanent, refused.value.code) == (True, "acl")
    assert "apply-inbound-acl" in str(refused.value)
    assert esl.logins == [] and esl.commands == []


def test_a_key_not_offered_reaches_the_ivr_and_the_patient_hears_why(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    # mod_httapi posts only keys its <bind> matches; any other key has it read the question
    # again without a word. Every key is taken, so ours says what was wrong and counts the
    # try; and each question is read once a try ("loops" 0: mod_httapi's do…while reads it
    # loops + 1 times before posting nothing).
    _task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    phone = Call(call["url"], call["key"])
    phone.step()
    work = phone.step(answer="9", input_type="dtmf")
    assert said(work).startswith("您按的键不在选项中。请再说一次。")
    assert all(e.get("loops") == "0" for e in work if e.get("name") == "answer")
    assert VoiceCall.objects.get().tries == 1


def test_an_optional_matrix_is_passed_over_whole_or_answered_whole(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    # A matrix with a row missing is refused as a response: an optional one is passed over
    # when its first row gets no keys, and once begun its rows are asked until answered.
    rows = [{"key": "am", "text": "早上"}, {"key": "pm", "text": "晚上"}]
    mild = [{"value": "1", "label": "轻"}, {"value": "2", "label": "重"}]
    do_save_questionnaire(
        None,
        {
            "code": "dizzy-check",
            "title": "头晕随访",
            "items": [
                {"key": "dizzy", "type": "choice", "text": "头晕吗", "options": YES_NO},
                {
                    "key": "how",
                    "type": "matrix",
                    "text": "头晕时",
                    "rows": rows,
                    "options": mild,
                    "required": False,
                },
                {"key": "falls", "type": "choice", "text": "摔倒过吗", "options": YES_NO},
            ],
        },
    )
    freeswitch(esl)
    patient = patient_factory(organisation=hospital)
    task = voice_task(patient, "dizzy-check")
    queue_due()
    send_due()
    call = placed(esl)
    phone = Call(call["url"], call["key"])
    phone.step()
    assert asked(phone.step(answer="2"))[0].startswith("头晕时：早上。")
    assert asked(phone.step())[0].startswith("摔倒过吗")  # no keys: the matrix passed over
    end = phone.step(answer="1")
    assert [e.tag for e in end] == ["speak", "hangup"] and "已记录" in said(end)
    assert QuestionnaireResponse.objects.get().answers == {"dizzy": "yes", "falls": "no"}

    QuestionnaireResponse.objects.all().delete()
    VoiceCall.objects.all().delete()
    task.refresh_from_db()
    task.status = Task.Status.OPEN
    task.save()
    phone = Call(call["url"], call["key"])
    phone.step()
    phone.step(answer="2")
    assert asked(phone.step(answer="1"))[0].startswith("头晕时：晚上。")
    assert "请再说一次。头晕时：晚上。" in asked(phone.step())[0]  # begun: asked again
    phone.step(answer="2")
    phone.step(answer="1")
    answers = QuestionnaireResponse.objects.get().answers
    assert answers["how"] == {"am": "1", "pm": "2"}


def test_a_call_that_reads_its_message_reads_no_link(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    # A questionnaire with a required text item is not asked by keypad: the message is read.
    # Its link (the patient's page, with its token) is no use read aloud, nor to the TTS.
    do_save_questionnaire(
        None,
        {
            "code": "wound-note",
            "title": "伤口随访",
            "items": [
                {"key": "red", "type": "choice", "text": "伤口红肿吗", "options": YES_NO},
                {"key": "note", "type": "text", "text": "请描述伤口情况"},
            ],
        },
    )
    freeswitch(esl)
    voice_task(patient_factory(organisation=hospital), "wound-note")
    queue_due()
    assert send_due().sent == 1
    message = Message.objects.get()
    assert message.link  # kept with the message, for the channels that can show it
    work = Call(placed(esl)["url"], message.key).step()
    assert "/p/" not in said(work) and "请点击填写" not in said(work)
    assert "/p/" not in message.body


def test_a_key_pressed_during_the_greeting_is_not_taken_as_the_first_answer(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    # FreeSWITCH leaves a key pressed while words without a <bind> are read queued on the
    # channel: the question after them takes it as its answer before it is heard. The
    # greeting takes such a key itself (ending it), under a name of its own.
    _task, call = dialled(esl, patient_factory(organisation=hospital), "phq9")
    phone = Call(call["url"], call["key"])
    work = phone.step()
    greeting = work[0]
    assert greeting.get("text", "").startswith("您好，这里是")
    assert greeting.find("bind") is not None and greeting.get("name") == "skipped"
    assert greeting.get("input-timeout") == "1"  # no wait after it when no key is pressed
    assert asked(work)[0].startswith("做事时提不起劲")
    text, _keys = asked(phone.step(skipped="1", input_type="dtmf"))
    assert text.startswith("未能识别您的按键。请再说一次。做事时提不起劲")
    assert VoiceCall.objects.get().answers == {}


def test_0_on_a_choice_asks_for_a_person_and_the_nurse_gets_a_call_back_task(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    load_pack()
    freeswitch(esl)
    task = voice_task(patient, "phq9", assignee=alice)
    queue_due()
    send_due()
    call = placed(esl)
    phone = Call(call["url"], call["key"])
    assert "如需人工服务，在选择时请按0。" in said(phone.step())
    phone.step(answer="2")
    end = phone.step(answer="0")
    assert [e.tag for e in end] == ["speak", "hangup"]
    assert "稍后医护人员会给您回电" in said(end)
    voice = VoiceCall.objects.get()
    assert (voice.status, voice.answers) == (VoiceCall.Status.CALLBACK, {"q1": "1"})
    back = Task.objects.get(patient=patient, node="ivr:call-back")
    assert (back.title, back.channel, back.assignee) == (
        "自动语音随访中患者要求人工回电",
        "phone",
        alice,
    )
    assert not QuestionnaireResponse.objects.exists()
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN  # the nurse's call can complete it


def test_0_puts_the_call_through_when_the_setting_names_where(
    at_noon: datetime, patient_factory: Any, hospital: Any, esl: EslServer
) -> None:
    row = freeswitch(esl)
    row.settings = {**row.settings, "transfer_to": "8000"}
    row.save()
    patient = patient_factory(organisation=hospital)
    task = voice_task(patient, form="symptom_check")
    message = voice_message(task, "您好，这里是随访中心。", keys={"1": "没有不舒服", "2": "有胸闷"})
    phone = Call(callback_urls(row)["ivr"], message.key)
    phone.step()
    end = phone.step(answer="0")
    assert [e.tag for e in end] == ["speak", "dial"]
    assert end[1].text == "8000" and "context" not in end[1].attrib
    assert "正在为您转接医护人员" in said(end)
    assert VoiceCall.objects.get().status == VoiceCall.Status.TRANSFERRED
    assert not Reply.objects.exists() and not Task.objects.filter(node="ivr:call-back").exists()
