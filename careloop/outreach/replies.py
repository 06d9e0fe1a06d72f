"""A patient's reply, from any channel: stored as received, then matched to the patient (by
the message it answers, their phone, or their channel address) and to their open follow-up,
read for symptoms, and acted on — an opt-out withdraws consent for the channel, symptoms
raise an alert (自伤风险 always critical), an answer completes the follow-up that asked for
it; what cannot be matched or understood waits in the staff inbox."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import transaction

from careloop.fields import index_field
from careloop.followup.alert_flow import note_on
from careloop.followup.models import OPEN_STATUSES, Alert, Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.followup.services import raise_alert
from careloop.outreach import assistant
from careloop.outreach.faq import asks, suggest
from careloop.outreach.faq_reply import answer
from careloop.outreach.followthrough import opt_out
from careloop.outreach.models import ChannelAddress, Message, Reply
from careloop.outreach.symptom_words import NEGATIVE
from careloop.outreach.symptoms import detect
from careloop.patients.models import Patient
from careloop.rules.engine import run_for_answers
from careloop.rules.models import Trigger

OPT_OUT_WORDS = frozenset({"T", "TD", "退订", "退", "取消订阅", "N", "不要再发"})
UNDERSTOOD = NEGATIVE | {"好", "好的", "收到", "谢谢", "知道了", "明白", "嗯", "好的谢谢", "已收到"}
UNDERSTOOD |= {"会按时复诊"}  # a revisit reminder call's key 1 (outreach.compose)
MATCH_WINDOW = timedelta(days=14)
CRITICAL_SYMPTOMS = frozenset({"自伤风险"})
HIGH_SYMPTOMS = frozenset({"胸痛胸闷", "呼吸困难", "出血", "视物模糊"})
_SCORE = re.compile(r"(?<!\d)(10|[0-9])\s*分?(?!\d)")


def is_opt_out(text: str) -> bool:
    return text.strip().strip("。.!！ ").upper() in OPT_OUT_WORDS


def receive(
    channel: str,
    text: str,
    *,
    provider: str = "",
    sender: str = "",
    raw: str = "",
    message: Message | None = None,
    unsubscribe: bool = False,
    external_id: str = "",
    organisation_id: int | None = None,
) -> Reply:
    """Store the reply as received, then read it (in its own transaction: a failure while
    reading leaves the stored reply for the inbox, never loses it). ``unsubscribe``: the
    patient left the channel (WeChat unsubscribe event), an opt-out whatever the text.
    ``organisation_id``: the organisation whose channel setting received it (None: a
    platform-wide one), whose staff read it when the sender is not recognised."""
    reply = Reply.objects.create(
        organisation_id=organisation_id,
        channel=channel,
        provider=provider,
        sender=sender,
        text=text[:2000],
        raw=raw,
        message=message,
        external_id=external_id[:100],
    )
    try:
        with transaction.atomic():
            process(reply, unsubscribe=unsubscribe)
    except Exception:
        Reply.objects.filter(pk=reply.pk).update(kind=Reply.Kind.UNCLEAR)
        raise
    return reply


def _patient(reply: Reply) -> Patient | None:
    if reply.message_id:
        return reply.message.patient  # type: ignore[union-attr]
    if not reply.sender:
        return None
    if reply.channel in ("sms", "voice"):
        hashes = Patient.index_hashes("phone", reply.sender)
        candidates = list(Patient.objects.filter(phone_hash__in=hashes))
        if len(candidates) > 1:  # a shared family phone: whoever we last wrote to
            last = (
                Message.objects.filter(patient__in=candidates, channel=reply.channel)
                .order_by("-created_at")
                .values_list("patient_id", flat=True)
                .first()
            )
            candidates = [p for p in candidates if p.pk == last] or candidates[:1]
        return candidates[0] if candidates else None
    address = (
        ChannelAddress.objects.filter(
            channel=reply.channel,
            address_hash__in=index_field(ChannelAddress, "address_hash").lookup_hashes(
                reply.sender
            ),
        )
        .select_related("patient")
        .first()
    )
    return address.patient if address else None


def _sharing_the_phone(reply: Reply, patient: Patient) -> list[int]:
    """Who an opt-out by text message stops: the number's holder asked for nothing more on
    it, so every patient of the organisation with that phone (a family sharing one), not
    only the one it was matched to."""
    if reply.channel not in ("sms", "voice") or not reply.sender:
        return [patient.pk]
    others = Patient.objects.filter(
        organisation_id=patient.organisation_id,
        phone_hash__in=Patient.index_hashes("phone", reply.sender),
    ).values_list("pk", flat=True)
    return sorted({patient.pk, *others})


def _answered_message(reply: Reply, patient: Patient) -> Message | None:
    if reply.message_id:
        return reply.message
    return (
        Message.objects.filter(
            patient=patient,
            channel=reply.channel,
            created_at__gt=reply.received_at - MATCH_WINDOW,
        )
        .order_by("-created_at")
        .first()
    )


def severity_of(symptoms: list[str]) -> str:
    if CRITICAL_SYMPTOMS.intersection(symptoms):
        return Alert.Severity.CRITICAL
    if HIGH_SYMPTOMS.intersection(symptoms):
        return Alert.Severity.HIGH
    return Alert.Severity.MEDIUM


def _alert(reply: Reply, patient: Patient, task: Task | None) -> Alert:
    """The alert for the reply's symptoms: the one still open for the same symptoms when the
    patient says it again (the reply is linked to it), else a new one."""
    symptoms = "、".join(sorted(reply.symptoms))  # the same set, whatever order said in
    title = f"患者回复提示：{symptoms}"
    open_already = (
        Alert.objects.filter(
            patient=patient, kind=Alert.Kind.REPLY, title=title, status__in=OPEN_STATUSES
        )
        .order_by("-pk")
        .first()
    )
    if open_already is not None:  # on its history, for whoever handles it
        note_on(open_already, f"患者再次回复（{reply.channel_label}）：“{reply.text[:200]}”")
        return open_already
    return raise_alert(
        patient,
        kind=Alert.Kind.REPLY,
        severity=severity_of(reply.symptoms),
        title=title,
        reason=f"患者通过{reply.channel_label}回复“{reply.text[:200]}”，识别到{symptoms}。"
        + (
            "存在自伤风险，请立即电话联系患者并通知责任医生。"
            if "自伤风险" in reply.symptoms
            else "请尽快联系患者评估。"
        ),
        details={"reply": reply.pk, "symptoms": reply.symptoms, "task": task.pk if task else None},
        task_id=task.pk if task else None,
    )


def _answers(task: Task, reply: Reply) -> dict[str, Any]:
    answers: dict[str, Any] = {"reply": reply.text[:500], "reply_symptoms": reply.symptoms}
    if task.form == "satisfaction" and (score := _SCORE.search(reply.text)):
        answers["score"] = int(score.group(1))
        answers["comments"] = reply.text[:200]
    return answers


def process(reply: Reply, *, unsubscribe: bool = False) -> None:
    patient = _patient(reply)
    if patient is None:
        reply.kind = Reply.Kind.UNMATCHED
        reply.save(update_fields=["kind"])
        return
    reply.patient, reply.organisation_id = patient, patient.organisation_id
    message = _answered_message(reply, patient)
    reply.message = message
    if unsubscribe or is_opt_out(reply.text):
        for patient_id in _sharing_the_phone(reply, patient):
            opt_out(patient_id, reply.channel, reply.provider or reply.channel)
        reply.kind = Reply.Kind.OPT_OUT
        reply.save()
        return
    found = detect(reply.text)
    reply.symptoms, reply.negated = list(found.symptoms), list(found.negated)
    run_for_answers(Trigger.REPLY, patient.pk, symptoms=reply.symptoms)
    task = None
    if message is not None and message.task_id:
        task = Task.objects.filter(pk=message.task_id, status=Task.Status.OPEN).first()
    reply.task = task
    if reply.symptoms:
        reply.alert = _alert(reply, patient, task)
    understood = bool(found.symptoms or found.negated) or reply.text.strip("。.!！ ") in UNDERSTOOD
    if task is not None and task.form and (understood or task.form == "satisfaction"):
        do_record_attempt(
            task,
            None,
            Attempt(
                outcome="reached",
                answers=_answers(task, reply),
                channel=reply.channel,
                notes=f"患者回复：{reply.text[:200]}",
            ),
        )
        understood = True
    # A question beside the answer (没有胸痛，复查要空腹吗？) is read: by the knowledge base,
    # else by a person; an alert already takes a reply with a symptom to a person.
    if not reply.symptoms and asks(reply.text):
        understood = False
    reply.kind = Reply.Kind.ANSWER if understood else Reply.Kind.UNCLEAR
    if reply.kind == Reply.Kind.UNCLEAR and not reply.symptoms:
        _ask_the_knowledge_base(reply, patient)
    reply.save()


def _ask_the_knowledge_base(reply: Reply, patient: Patient) -> None:
    """A question the knowledge base answers clearly is answered at once (F18); otherwise
    the closest entry waits beside the reply in the inbox, for whoever reads it. Never a
    reply that tells of a symptom: a person reads that."""
    found = suggest(reply.text, patient.organisation)
    if found is not None:
        reply.faq, reply.faq_score = found.entry, found.score
        if found.confident:
            reply.answer_message = answer(reply, patient, found.entry)
            if reply.answer_message is not None:
                reply.kind = Reply.Kind.FAQ
    if reply.kind == Reply.Kind.UNCLEAR and assistant.enabled():
        # A draft from the hospital's language model, for staff to check (never sent by
        # itself): asked once the reply is stored, outside this transaction.
        from careloop.outreach.tasks import draft_reply

        transaction.on_commit(lambda: draft_reply.enqueue(reply.pk))
