"""The words of a message: the organisation's template for the purpose and channel (or the
platform's, or the built-in default), rendered with the patient's variables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils import timezone

from careloop.followup.scripts import salutation
from careloop.outreach.models import MessageTemplate
from careloop.outreach.transports import TRANSPORTS
from careloop.patients import identity

OPT_OUT_FOOTER = "回T退订"
LINK_LINE = "请点击填写：{{ link }}"
DEFAULT_TEXT = {
    "condition_tracking": "{{ salutation }}您好，{{ hospital }}随访：{{ title }}。最近身体怎么样？"
    "如有胸闷、气短、头晕等不适，请直接回复文字告诉我们。",
    "rehab_guidance": "{{ salutation }}您好，{{ hospital }}提醒您：{{ title }}。请按医嘱服药，"
    "注意休息，如有不适请回复。",
    "revisit_reminder": "{{ salutation }}您好，{{ hospital }}提醒您按时复诊（{{ title }}，"
    "{{ due_date }}前）。如需改约请回复。",
    "emotional_care": "{{ salutation }}您好，近来天气多变，请注意保暖、按时服药。"
    "{{ hospital }}随访中心关心您，有任何需要请回复。",
    "satisfaction": "{{ salutation }}您好，感谢您选择{{ hospital }}。请回复0-10分评价本次"
    "就医体验（10分为非常满意），也欢迎留言。",
    "faq_answer": "{{ salutation }}您好，{{ answer }}（{{ hospital }}自动回复；如有不适请及时就医，"
    "或回复说明情况）",
    "lecture_invite": "{{ salutation }}您好，{{ hospital }}将于{{ lecture_time }}"
    "在{{ lecture_place }}举办健康讲座“{{ lecture_title }}”，欢迎参加，到场签到可获积分。"
    "在线报名：{{ link }}",
}
# Read aloud on an automated call: no link to click, nothing to reply in writing; where a
# key press answers, the call offers the keys (``DEFAULT_VOICE_KEYS``, read as the reply).
DEFAULT_VOICE_TEXT = {
    "condition_tracking": "{{ salutation }}您好，这里是{{ hospital }}随访中心：{{ title }}。"
    "请问您最近身体怎么样？",
    "rehab_guidance": "{{ salutation }}您好，{{ hospital }}提醒您：{{ title }}。请按医嘱服药，"
    "注意休息，如有不适请及时就医。",
    "revisit_reminder": "{{ salutation }}您好，{{ hospital }}提醒您按时复诊（{{ title }}，"
    "{{ due_date }}前）。",
    "emotional_care": "{{ salutation }}您好，近来天气多变，请注意保暖、按时服药。"
    "{{ hospital }}随访中心关心您，有任何需要请联系我们。",
    "satisfaction": "{{ salutation }}您好，感谢您选择{{ hospital }}，请您评价本次就医体验。",
    "faq_answer": "{{ salutation }}您好，{{ answer }}"
    "（{{ hospital }}智能问答；如有不适请及时就医）",
    "lecture_invite": "{{ salutation }}您好，{{ hospital }}将于{{ lecture_time }}"
    "在{{ lecture_place }}举办健康讲座“{{ lecture_title }}”，欢迎参加，到场签到可获积分。",
}
DEFAULT_VOICE_KEYS = {
    "condition_tracking": {"1": "没有不舒服", "2": "有不舒服，请联系我"},
    "revisit_reminder": {"1": "会按时复诊", "2": "需要改约"},
    # Read as the satisfaction form's 0–10 score (≤ 6 a low-satisfaction alert, as typed).
    "satisfaction": {"1": "满意（10分）", "2": "一般（7分）", "3": "不满意（3分）"},
    "lecture_invite": {"1": "我想报名参加"},
}
_engine = Engine(autoescape=False)


# Before the template language's own (English) detail: what to look at, in Chinese.
TEMPLATE_ERROR = "模板有误（请检查 {% %} 标签是否成对、{{ }} 中的变量和过滤器是否写对）："


class TemplateError(ValueError):
    """A template that cannot be rendered (the message names where)."""


@dataclass
class Composed:
    text: str
    subject: str = ""
    template_code: str = ""
    params: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    approved: bool = True  # False: the provider has not approved this template yet
    has_template: bool = False

    def sendable_by(self, provider: str) -> bool:
        """A provider that sends only templates it approved (SMS, WeChat) needs one."""
        return not TRANSPORTS[provider].needs_template or (self.has_template and self.approved)


def default_text(purpose: str, channel: str, link: bool = False) -> str:
    """The built-in words for a purpose (a template): the link line when there is a link,
    the opt-out footer on SMS; on a call, words to be heard (no link)."""
    if channel == "voice":
        return DEFAULT_VOICE_TEXT.get(purpose, DEFAULT_VOICE_TEXT["condition_tracking"])
    text = DEFAULT_TEXT.get(purpose, DEFAULT_TEXT["condition_tracking"])
    if link and "{{ link }}" not in text:  # a purpose whose words place the link itself
        text += LINK_LINE
    return text + OPT_OUT_FOOTER if channel == "sms" else text


def template_for(organisation: Any, purpose: str, channel: str) -> MessageTemplate | None:
    """The organisation's own template, else the nearest ancestor's, else the platform's."""
    return organisation.nearest(MessageTemplate.objects.filter(purpose=purpose, channel=channel))


# ``{{ name }}`` as Django reads it: on one line, a name not starting with "_".
_PLAIN_VARIABLE = re.compile(r"\{\{[ \t]*([A-Za-z]\w*)[ \t]*\}\}")
# Any other brace is left to Django (it refuses "{{{ a }}}", where the fast path would
# print a stray brace), and so are the names its Context always holds.
_BUILT_IN_NAMES = frozenset({"True", "False", "None"})


class _Plain:
    """A template whose only tags are ``{{ name }}`` (nearly every message template): its
    text split once into literals and names, rendered by filling the context's strings into
    a format string. As a Django template each render cost ~25 µs, four per message."""

    def __init__(self, parts: tuple[str, ...]) -> None:  # literal, name, …, literal
        self.names = parts[1::2]
        # The literals hold no brace (``_compiled`` checks), so "{}" marks only the names.
        self.pattern = "{}".join(parts[::2])

    def render(self, context: dict[str, Any]) -> str | None:
        values = [context.get(name, "") for name in self.names]
        if any(type(value) is not str for value in values):
            return None  # a number, a date: Django localises it
        return self.pattern.format(*values)


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template | _Plain:
    """A template parsed once per process: a batch renders the same few texts many times."""
    parts = tuple(_PLAIN_VARIABLE.split(text))
    literals, names = parts[::2], parts[1::2]
    braces = any("{" in part or "}" in part for part in literals)
    if not braces and not _BUILT_IN_NAMES.intersection(names):
        return _Plain(parts)
    return _django(text)


@lru_cache(maxsize=256)
def _django(text: str) -> Template:
    try:
        return _engine.from_string(text)
    except TemplateSyntaxError as error:
        raise TemplateError(f"{TEMPLATE_ERROR}{error}") from error


def render(text: str, context: dict[str, Any]) -> str:
    template = _compiled(text)
    if isinstance(template, _Plain):
        plain = template.render(context)
        if plain is not None:
            return plain.strip()
        template = _django(text)
    return template.render(Context(context)).strip()


def context_for(
    patient: Any, task: Any, hospital: str, link: str = "", local_now: datetime | None = None
) -> dict[str, Any]:
    """The variables of a message. ``local_now``: the present in the local time zone, when a
    batch has it already (reading the zone is a thread-local lookup each time)."""
    local_now = local_now or timezone.localtime()
    due = task.deadline.astimezone(local_now.tzinfo) if task is not None else None
    return {
        "link": link,
        "salutation": salutation(
            patient.name, patient.sex, identity.age_on(patient.birth_date, local_now.date())
        ),
        "surname": patient.name[:1],
        "hospital": hospital,
        "title": task.title if task is not None else "",
        "due_date": f"{due:%-m月%-d日}" if due else "",
    }


def compose(
    template: MessageTemplate | None, purpose: str, channel: str, context: dict[str, Any]
) -> Composed:
    if template is None:
        return Composed(
            text=render(default_text(purpose, channel, bool(context.get("link"))), context),
            keys=dict(DEFAULT_VOICE_KEYS.get(purpose, {})) if channel == "voice" else {},
        )
    return Composed(
        text=render(template.body, context),
        subject=render(template.subject, context),
        template_code=template.provider_template,
        params={k: render(str(v), context) for k, v in template.params.items()},
        keys=dict(template.keys),
        approved=template.approved or not template.provider_template,
        has_template=True,
    )
