"""Answering a patient's reply in words: the knowledge base's answer (F18), or what a member
of staff writes in the inbox. The answer goes back on the channel the reply came on, as any
message does (consent for the channel, an approved template where the provider sends only
those: the purpose 常见问题自动回复, its text holding ``{{ answer }}``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.outreach.compose import TemplateError, compose, context_for, template_for
from careloop.outreach.config import channel_config
from careloop.outreach.models import FaqEntry, Message, Reply
from careloop.outreach.models.channels import FAQ_ANSWER
from careloop.outreach.policy import consents
from careloop.outreach.queueing import hospital_name

# The channels a patient writes text on and can be answered in text.
TEXT_CHANNELS = frozenset({"sms", "wechat", "wecom", "email", "app"})


@dataclass(frozen=True)
class NotSent:
    why: str


def queue_answer(reply: Reply, patient: Any, text: str, key: str) -> Message | NotSent:
    """Queue ``text`` to ``reply``'s sender under the idempotency ``key``, or say why not."""
    channel, to = reply.channel, reply.sender
    if not to and reply.message is not None and reply.message.channel == channel:
        # A reply typed in for the patient (the outbox) has no sender: it answers our message,
        # whose recipient is where the patient is on that channel.
        to = reply.message.to
    if channel not in TEXT_CHANNELS:
        return NotSent(str(_("This channel cannot carry a written answer.")))
    if not to:
        return NotSent(str(_("The patient's address on this channel is not known.")))
    if not consents([patient.pk], channel).get(patient.pk, False):
        return NotSent(str(_("The patient has not agreed to follow-up on this channel.")))
    config = channel_config(patient.organisation_id, channel)
    context = context_for(patient, None, hospital_name(patient.organisation_id, {}))
    context["answer"] = text
    template = template_for(patient.organisation, FAQ_ANSWER, channel)
    try:
        words = compose(template, FAQ_ANSWER, channel, context)
    except TemplateError:
        return NotSent(str(_("The answer template cannot be rendered.")))
    if not words.sendable_by(config.provider):
        return NotSent(
            str(_("This provider sends only approved templates: none is approved for answers."))
        )
    message, _created = Message.objects.get_or_create(
        key=key,
        defaults={
            "organisation_id": patient.organisation_id,
            "patient": patient,
            "channel": channel,
            "provider": config.provider,
            "purpose": FAQ_ANSWER,
            "to": to,
            "subject": words.subject,
            "body": words.text,
            "template_code": words.template_code,
            "params": words.params,
            "keys": words.keys,
            "next_try_at": timezone.now(),
        },
    )
    return message


def answer(reply: Reply, patient: Any, entry: FaqEntry) -> Message | None:
    """Queue ``entry``'s answer to ``reply``; None when it cannot be sent."""
    queued = queue_answer(reply, patient, entry.answer, f"faq:{reply.pk}")
    if isinstance(queued, NotSent):
        return None
    FaqEntry.objects.filter(pk=entry.pk).update(times_used=F("times_used") + 1)
    return queued
