"""An automated call, step by step, for FreeSWITCH's ``mod_httapi``: each time the switch
asks what to do next, it posts the keys pressed (``answer``) and we answer with the next
words to read and the keys to take.

A follow-up whose questionnaire can be answered by keypad (choices of at most nine answers,
0–10 scales, numbers ended with #, matrices row by row; anything else optional) is asked
whole on the call, with its skip logic; the answers are stored as the questionnaire's
response (scored, flags raised as alerts, rules run, the follow-up recorded as reached) once
the last question is answered. Any other message is read and, with keypad answers, the key
pressed is received as the patient's reply. A key that is not one of those offered is asked
again, up to three times. 0 on a choice asks for a person: the call is put through to the
hospital's agents when the setting names where (``transfer_to``), else a call-back task goes
to the follow-up's nurse."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone, translation

from careloop.outreach.callbacks import Inbound
from careloop.outreach.models import ChannelConfig, Message, VoiceCall
from careloop.questionnaires.definition import (
    AnswerError,
    Definition,
    Flag,
    Item,
    check,
    visible,
)

MAX_KEYS = 9
MAX_TRIES = 3
KEYS_STEP = "keys"  # a message's own keypad answers
# The question a document asks, set as an httapi param: the switch posts it back with the
# keys, so a request sent again (a retry, its answer already taken) is told from a new one.
ASKED = "careloop_asked"
PERSON = "0"  # 人工服务: never an answer of a choice (numbered from 1)
PERSON_OFFER = "如需人工服务，在选择时请按0。"
CALLBACK_TITLE = "自动语音随访中患者要求人工回电"
CRISIS = "如果您有伤害自己的想法，请不要等待，立即拨打120或心理援助热线12356。"
St = VoiceCall.Status


def askable(item: Item) -> bool:
    if item.type in ("choice", "matrix"):
        return 1 <= len(item.options) <= MAX_KEYS
    return item.type in ("scale", "number")


def by_keypad(definition: Definition) -> bool:
    """Whether the questionnaire can be answered on a call: every item it may ask by keys,
    or optional (then not asked)."""
    return any(askable(i) for i in definition.items) and all(
        askable(i) or not i.required for i in definition.items
    )


@dataclass(frozen=True)
class Step:
    item: Item
    row: tuple[str, str] | None = None

    @property
    def key(self) -> str:
        return f"{self.item.key}/{self.row[0]}" if self.row else self.item.key


def next_step(definition: Definition, answers: dict[str, Any]) -> Step | None:
    """The next question to ask, given the answers so far (skip logic applied)."""
    for item in visible(definition, answers):
        if not askable(item):
            continue
        if item.type == "matrix":
            given = answers.get(item.key, {})
            if given == "":  # an optional matrix passed over
                continue
            row = next((r for r in item.rows if r[0] not in given), None)
            if row is not None:
                return Step(item, row)
        elif item.key not in answers:
            return Step(item)
    return None


def _span(item: Item) -> tuple[float | None, float | None]:
    if item.type == "scale":
        return (item.min if item.min is not None else 0, item.max if item.max is not None else 10)
    return item.min, item.max


def _one_digit(item: Item) -> bool:
    low, high = _span(item)
    return item.type == "scale" and low is not None and high is not None and 0 <= low <= high <= 9


def _plain(number: float | None) -> str:
    return "" if number is None else str(int(number)) if number == int(number) else str(number)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ("。", "？", "！", "?", "!", ".") else f"{text}。"


def prompt(step: Step) -> str:
    item = step.item
    head = _sentence(f"{item.text}：{step.row[1]}" if step.row else item.text)
    if item.type in ("choice", "matrix"):
        keys = "；".join(f"{o.label}请按{n}" for n, o in enumerate(item.options, start=1))
        return f"{head}{keys}。"
    low, high = _span(item)
    if _one_digit(item):
        return f"{head}请按{_plain(low)}到{_plain(high)}之间的数字键。"
    between = f"{_plain(low)}到{_plain(high)}{item.unit}之间的" if low is not None else ""
    if low is None and high is not None:
        between = f"不超过{_plain(high)}{item.unit}的"
    point = "" if item.type == "scale" else "小数点请按星号键，"
    return f"{head}请用按键输入{between}数字，{point}输完请按井号键。"


# A question answered by one key takes any key: one the switch's pattern did not match would
# not be posted (mod_httapi reads the question again, or goes on without a word), so the
# patient would never hear why; ours says so, and counts the try.
ONE_KEY = "~[0-9*#]"


def _pattern(step: Step) -> tuple[str, str]:
    """(the keys' pattern for the switch, the character to strip)."""
    if step.item.type in ("choice", "matrix") or _one_digit(step.item):
        return ONE_KEY, ""
    return "~[0-9*]+#", "#"


def read_keys(step: Step, keys: str) -> tuple[Any, str]:
    """(the answer the keys give, "" or why they give none)."""
    item = step.item
    if not keys or keys == "invalid":
        return None, "未能识别您的按键。"
    if item.type in ("choice", "matrix"):
        if not keys.isdigit() or not 1 <= int(keys) <= len(item.options):
            return None, "您按的键不在选项中。"
        return item.options[int(keys) - 1].value, ""
    value, problem = check(item, keys.replace("*", "."))
    if problem:
        said = keys.replace("*", "点").replace("#", "井号")  # read as "star", "pound"
        return None, f"您输入的是{said}，{problem}。"
    return value, ""


# -- the switch's document ------------------------------------------------------------------


class Words:
    """The httapi ``<work>`` of one answer: words read, then maybe keys taken, or hang up."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.voice = {"engine": str(settings.get("tts_engine") or "")}
        if settings.get("tts_voice"):
            self.voice["voice"] = str(settings["tts_voice"])
        self.work: list[ET.Element] = []
        self.params: dict[str, str] = {}

    def say(self, text: str) -> None:
        if text.strip():
            self.work.append(ET.Element("speak", {**self.voice, "text": text.strip()}))

    def say_before_asking(self, text: str) -> None:
        """Words before the first question: a key pressed while they are read ends them and is
        taken by them. Words without a <bind> leave the key queued on the channel, and the
        question after them takes it as its answer before it is heard."""
        speak = ET.Element(
            "speak",
            {**self.voice, "text": text.strip(), "name": "skipped", "input-timeout": "1"},
        )
        ET.SubElement(speak, "bind").text = ONE_KEY
        self.work.append(speak)

    def ask(self, text: str, pattern: str, strip: str = "") -> None:
        speak = ET.Element(
            "speak",
            {
                **self.voice,
                "text": text,
                "name": "answer",
                "loops": "0",  # read once: a try without keys comes back to us
                "digit-timeout": "3000",
                "input-timeout": "8000",
            },
        )
        bind = ET.SubElement(speak, "bind", {"strip": strip} if strip else {})
        bind.text = pattern
        self.work.append(speak)

    def hang_up(self) -> None:
        self.work.append(ET.Element("hangup"))

    def transfer(self, to: str, context: str = "") -> None:
        """Put the call through to an extension, hunt group or queue of the switch's
        dialplan (mod_httapi's <dial>: a transfer in the httapi profile's context, or the
        one named when the profile lets a document name it)."""
        dial = ET.Element("dial", {"context": context} if context else {})
        dial.text = to
        self.work.append(dial)

    def document(self) -> bytes:
        root = ET.Element("document", {"type": "xml/freeswitch-httapi"})
        if self.params:
            params = ET.SubElement(root, "params")
            for name, value in self.params.items():
                ET.SubElement(params, name).text = value
        ET.SubElement(root, "work").extend(self.work or [ET.Element("hangup")])
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# -- the call -------------------------------------------------------------------------------


def hit(config: ChannelConfig, form: dict[str, str], raw: str) -> bytes:
    """Answer one of the switch's requests for the call of ``form["careloop_key"]``."""
    with translation.override("zh-hans"):  # the call is read in Chinese, whatever asked
        return _hit(config, form, raw)


def _hit(config: ChannelConfig, form: dict[str, str], raw: str) -> bytes:
    from careloop.outreach.receiving import sent_message

    words = Words(config.settings or {})
    message = sent_message(config, form.get("careloop_key", ""), "")
    if message is None:
        words.hang_up()
        return words.document()
    now = timezone.now()
    with transaction.atomic():
        call = VoiceCall.objects.select_for_update().filter(message=message).first()
        if form.get("exiting") == "true":
            if call is not None and call.status == St.ASKING:
                call.status, call.ended_at = St.HUNG_UP, now
                call.save(update_fields=["status", "ended_at"])
            return b"OK"
        if call is None:
            call = _start(message, form, words)
        elif call.status == St.ANSWERED:
            _closed_again(call, words)
        elif call.status != St.ASKING:
            words.hang_up()
        elif form.get(ASKED, _asked(call)) != _asked(call):
            _repeat(call, message, words)  # its keys were taken: the question now is asked
        else:
            _take(call, message, config, form.get("answer", ""), words, raw)
        if call.status == St.ASKING:
            words.params[ASKED] = _asked(call)
        elif call.ended_at is None:
            call.ended_at = now
        call.save()
    return words.document()


def _asked(call: VoiceCall) -> str:
    return f"{call.step}.{call.tries}"


def _definition(call: VoiceCall) -> Definition | None:
    from careloop.questionnaires.services import definition_of

    version = call.questionnaire_version
    return definition_of(version) if version is not None else None


def _start(message: Message, form: dict[str, str], words: Words) -> VoiceCall:
    """The call was answered: greet, and ask the first question (or read the message)."""
    from careloop.outreach.queueing import hospital_name
    from careloop.questionnaires.services import current, definition_of

    call = VoiceCall(message=message, call_id=form.get("session_id", "")[:64])
    task = message.task
    version = current(task.questionnaire) if task is not None and task.questionnaire else None
    definition = definition_of(version) if version is not None else None
    if version is not None and definition is not None and by_keypad(definition):
        hospital = hospital_name(message.organisation_id, {})
        if task is not None and not task.is_open:  # answered, or cancelled, while it rang
            call.status = St.DONE
            words.say(f"您好，这里是{hospital}随访中心。这次随访无需您再回答问题了，谢谢，再见。")
            words.hang_up()
            return call
        call.questionnaire_version = version
        words.say_before_asking(
            f"您好，这里是{hospital}随访中心。请您用电话按键回答“{definition.title}”的几个问题。"
            + (_sentence(definition.intro) if definition.intro.strip() else "")
            + PERSON_OFFER
        )
        _ask_next(call, definition, words)
        return call
    words.say(message.body)
    if message.keys:
        call.step = KEYS_STEP
        words.ask(_options(message), ONE_KEY)
    else:
        call.status = St.DONE
        words.say("谢谢，再见。")
        words.hang_up()
    return call


def _ask_next(call: VoiceCall, definition: Definition, words: Words, before: str = "") -> None:
    step = next_step(definition, call.answers)
    if step is None:
        return _finish(call, definition, words)
    call.step, call.tries = step.key, 0
    pattern, strip = _pattern(step)
    words.ask(before + prompt(step), pattern, strip)


def _step(definition: Definition, key: str) -> Step | None:
    item_key, _, row_key = key.partition("/")
    item = definition.item(item_key)
    if item is None:
        return None
    row = next((r for r in item.rows if r[0] == row_key), None) if row_key else None
    return Step(item, row)


def _take(
    call: VoiceCall, message: Message, config: ChannelConfig, keys: str, words: Words, raw: str
) -> None:
    if call.step == KEYS_STEP:
        return _take_reply(call, message, config, keys, words, raw)
    definition = _definition(call)
    step = _step(definition, call.step) if definition is not None else None
    if definition is None or step is None:
        call.status = St.GAVE_UP
        words.hang_up()
        return None
    if keys == PERSON and step.item.type in ("choice", "matrix"):
        return _person(call, message, config, words)
    value, problem = read_keys(step, keys)
    # An optional question passed over; a matrix only whole, before its first row is
    # answered (a matrix with a row missing is no answer: the response would be refused).
    started = step.row is not None and bool(call.answers.get(step.item.key))
    if problem:
        if not keys and not step.item.required and not started:
            value, problem = "", ""
        else:
            return _again(call, words, problem, *_pattern(step), prompt(step))
    if step.row is not None and value != "":
        call.answers[step.item.key] = {
            **(call.answers.get(step.item.key) or {}),
            step.row[0]: value,
        }
    else:
        call.answers[step.item.key] = value
    return _ask_next(call, definition, words)


def _repeat(call: VoiceCall, message: Message, words: Words) -> None:
    """The question being asked, asked again as it was (no try counted)."""
    if call.step == KEYS_STEP:
        return words.ask(_options(message), ONE_KEY)
    definition = _definition(call)
    step = _step(definition, call.step) if definition is not None else None
    if step is None:
        call.status = St.GAVE_UP
        return words.hang_up()
    pattern, strip = _pattern(step)
    return words.ask(prompt(step), pattern, strip)


def _options(message: Message) -> str:
    keys = [f"{meaning}请按{d}" for d, meaning in sorted(message.keys.items())]
    if PERSON not in message.keys:
        keys.append(f"人工服务请按{PERSON}")
    return "；".join(keys) + "。"


def _person(call: VoiceCall, message: Message, config: ChannelConfig, words: Words) -> None:
    """The patient asked for a person."""
    settings = config.settings or {}
    if settings.get("transfer_to"):
        call.status = St.TRANSFERRED
        words.say("正在为您转接医护人员，请稍候。")
        words.transfer(str(settings["transfer_to"]), str(settings.get("transfer_context") or ""))
        return
    call.status = St.CALLBACK
    _call_back(message)
    words.say("好的，稍后医护人员会给您回电。谢谢，再见。")
    words.hang_up()


def _call_back(message: Message) -> None:
    """A phone task for the follow-up's nurse (its assignee, else the patient's), unless the
    patient has one open already."""
    from datetime import timedelta

    from careloop.followup.models import Task
    from careloop.followup.planning import assignee_for

    patient = message.patient
    asked = Task.objects.filter(patient=patient, title=CALLBACK_TITLE, status=Task.Status.OPEN)
    if asked.exists():
        return
    task, now = message.task, timezone.now()
    Task.objects.create(
        patient=patient,
        organisation_id=patient.organisation_id,
        team_id=patient.care_team_id,
        node="ivr:call-back",
        title=CALLBACK_TITLE,
        purpose=task.purpose if task is not None else "condition_tracking",
        channel="phone",
        channels=["phone"],
        assignee_role="nurse",
        assignee_id=(task.assignee_id if task is not None else None)
        or assignee_for(patient, "nurse"),
        due_at=now,
        deadline=now + timedelta(hours=24),
    )


def _again(call: VoiceCall, words: Words, problem: str, pattern: str, strip: str, ask: str) -> None:
    call.tries += 1
    if call.tries >= MAX_TRIES:
        call.status = St.GAVE_UP
        words.say(f"{problem}抱歉，未能完成，稍后医护人员会与您联系。再见。")
        words.hang_up()
        return
    words.ask(f"{problem}请再说一次。{ask}", pattern, strip)


def _take_reply(
    call: VoiceCall, message: Message, config: ChannelConfig, keys: str, words: Words, raw: str
) -> None:
    from careloop.outreach.receiving import apply_inbound

    if keys == PERSON and PERSON not in message.keys:
        return _person(call, message, config, words)
    if keys[:1] not in message.keys:
        problem = "未能识别您的按键。" if not keys or keys == "invalid" else "您按的键不在选项中。"
        return _again(call, words, problem, ONE_KEY, "", _options(message)[:-1])
    apply_inbound(
        config,
        "voice",
        Inbound(
            sender="",
            key=message.key,
            keypad=keys[:1],
            external_id=f"{call.call_id or message.key}:{keys[:1]}",
        ),
        raw,
    )
    call.status = St.DONE
    words.say("您的回答已记录，谢谢，再见。")
    words.hang_up()
    return None


def _finish(call: VoiceCall, definition: Definition, words: Words) -> None:
    from careloop.questionnaires.models import QuestionnaireResponse
    from careloop.questionnaires.services import submit

    message = call.message
    assert call.questionnaire_version is not None
    answers = {k: v for k, v in call.answers.items() if v != ""}
    try:
        submitted = submit(
            call.questionnaire_version,
            message.patient,
            answers,
            source=QuestionnaireResponse.Source.VOICE,
            task=message.task,
            channel="voice",
        )
    except AnswerError:
        call.status = St.GAVE_UP
        words.say("抱歉，未能完成，稍后医护人员会与您联系。再见。")
        words.hang_up()
        return
    call.status, call.response, call.step = St.ANSWERED, submitted.response, ""
    _closing(words, submitted.result.flags)


def _closing(words: Words, flags: list[Flag]) -> None:
    closing = "您的回答已记录。"
    if any(f.symptom == "自伤风险" for f in flags):
        closing += CRISIS
    if flags:
        closing += "您的回答提示需要关注，医护人员会尽快与您联系。"
    words.say(f"{closing}感谢您的配合，再见。")
    words.hang_up()


def _closed_again(call: VoiceCall, words: Words) -> None:
    """The last answer sent again (its answer lost on the way): the same closing words (where
    to turn, after a self-harm answer), nothing stored again."""
    definition = _definition(call)
    raised = set(call.response.flags) if call.response is not None else set()
    _closing(words, [f for f in definition.flags if f.title in raised] if definition else [])


def hung_up(config: ChannelConfig, form: dict[str, str]) -> tuple[int, int]:
    """The switch's word that the call of ``form["careloop_key"]`` ended: a call that never
    reached the IVR was not answered (the message failed: the follow-up moves on as after
    any failed delivery), one that did was delivered. (Reports applied, come too early.)"""
    from careloop.outreach.callbacks import Report
    from careloop.outreach.receiving import apply_reports, sent_message

    call_id = form.get("call_id", "")[:64]
    message = sent_message(config, form.get("careloop_key", ""), call_id)
    if message is None:
        return 0, 0
    call = VoiceCall.objects.filter(message=message).first()
    if call is not None and call.status == St.ASKING:
        call.status, call.ended_at = St.HUNG_UP, timezone.now()
        call.save(update_fields=["status", "ended_at"])
    answered = call is not None
    report = Report(
        delivered=answered,
        provider_id=call_id,
        key=message.key,
        code="" if answered else "NO_ANSWER",
        error="" if answered else "未接听",
    )
    return apply_reports(config, [report])
