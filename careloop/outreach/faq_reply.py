"""Answering a patient's question from the knowledge base (F18): the entry's answer goes
back on the channel the question came on, as any message does (consent for the channel, an
approved template where the provider needs one); when it cannot go, a person answers."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils import timezone

from careloop.outreach.compose import TemplateError, compose, context_for, template_for
from careloop.outreach.config import channel_config
from careloop.outreach.models import FaqEntry, Message, Reply
from careloop.outreach.models.channels import FAQ_ANSWER
from careloop.outreach.policy import consents
from careloop.outreach.queueing import hospital_name
from careloop.outreach.transports import TRANSPORTS


def answer(reply: Reply, patient: Any, entry: FaqEntry) -> Message | None:
    """Queue ``entry``'s answer to ``reply``'s sender; None when it cannot be sent."""
    channel, to = reply.channel, reply.sender
    if not to or channel not in TEXT_CHANNELS:
        return None
    if not consents([patient.pk], channel).get(patient.pk, False):
        return None
    config = channel_config(patient.organisation_id, channel)
    context = context_for(patient, None, hospital_name(patient.organisation_id, {}))
    context["answer"] = entry.answer
    try:
        words = compose(
            template_for(patient.organisation, FAQ_ANSWER, channel), FAQ_ANSWER, channel, context
        )
    except TemplateError:
        return None
    if TRANSPORTS[config.provider].needs_template and not (words.has_template and words.approved):
        return None
    message = Message.objects.create(
        organisation_id=patient.organisation_id,
        patient=patient,
        key=f"faq:{reply.pk}",
        channel=channel,
        provider=config.provider,
        purpose=FAQ_ANSWER,
        to=to,
        subject=words.subject,
        body=words.text,
        template_code=words.template_code,
        params=words.params,
        keys=words.keys,
        next_try_at=timezone.now(),
    )
    FaqEntry.objects.filter(pk=entry.pk).update(times_used=F("times_used") + 1)
    return message


# The channels a patient writes text on and can be answered in text.
TEXT_CHANNELS = frozenset({"sms", "wechat", "wecom", "email", "app"})
