"""The worklist's rows as HTML, built in Python.

The first page holds 50 rows of ~16 values each. As template variables they cost ~40% of
the page's CPU (each one resolved, localised and escaped by the template engine, the choice
labels translated again per row): see docs/benchmarks.md, worklist. Here the labels are
looked up once per page and each row is one ``str.format`` of escaped values (the standard
library's ``html.escape``, which Django's ``escape`` wraps in lazy-string checks that cost
more than the escaping); the markup is the one the template had.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from careloop.followup.models import Purpose
from careloop.followup.models.lost_risk import HIGH as LOST_HIGH
from careloop.patients.identity import age_on, age_text
from careloop.patients.models import Channel, Sex, Tier

ROW = (
    '<tr data-row data-href="{url}" tabindex="-1">'
    '<td><input class="form-check-input" type="checkbox" name="task" value="{pk}"'
    ' aria-label="{select}"></td>'
    '<td><span class="badge {badge} text-white" data-testid="priority" title="{parts}">'
    '{priority}</span><div class="small text-secondary">{parts}</div></td>'
    '<td><a href="{url}" data-testid="task-link">{name}</a>{lost}'
    '<div class="small text-secondary">{who}</div></td>'
    '<td>{title}<div class="small text-secondary">{purpose}{pathway}</div></td>'
    "<td>{due}{late}{tries}</td><td>{channel}</td><td>{assignee}</td></tr>"
)
# What a row reads, loaded as plain values (a named tuple per row): no Task, Patient, Plan,
# Pathway and User instances (~2 ms a page), none of the patient's encrypted fields.
ROW_FIELDS = (
    "pk",
    "patient_id",
    "title",
    "purpose",
    "channel",
    "due_at",
    "deadline",
    "attempts",
    "patient__name",
    "patient__sex",
    "patient__birth_date",
    "patient__risk_tier",
    "plan__pathway__name",
    "assignee_id",
    "assignee__display_name",
    "assignee__username",
    "alert_points",
    "risk_points",
    "overdue_points",
    "priority",
)
LATE = '<div><span class="badge bg-danger-lt">{} {}</span></div>'
TRIES = '<div class="small text-secondary">{}</div>'
# The lost-to-follow-up score (followup.lost_risk): shown only, never part of the priority.
LOST = ' <span class="badge {} ms-1" data-testid="lost-risk" title="{}">{} {}%</span>'


def e(value: Any) -> str:
    """``value`` as HTML text: & < > " ' escaped, as Django's ``escape`` does."""
    return html.escape(str(value))


def badge(priority: int) -> str:
    if priority >= 100:
        return "bg-danger"
    if priority >= 50:
        return "bg-warning"
    return "bg-azure" if priority >= 20 else "bg-secondary"


@dataclass
class Labels:
    """The page's words, translated once (in the request's language)."""

    task_url: str
    now: datetime
    today: date  # local, for ages
    select: str
    overdue: str
    team_queue: str
    parts: str
    age: str
    risk: str
    purposes: dict[str, str]
    channels: dict[str, str]
    sexes: dict[str, str]
    tiers: dict[str, str]
    lost_word: str = ""
    # patient id → (chance of not being reached, its main factors): the page's patients'.
    lost: dict[int, tuple[float, str]] = field(default_factory=dict)

    @classmethod
    def for_page(cls, task_url: str, now: datetime) -> Labels:
        return cls(
            task_url=task_url,
            now=now,
            today=timezone.localdate(now),
            select=_("Select"),
            overdue=_("overdue"),
            team_queue=_("team queue"),
            parts=_("alert %(a)s + risk %(r)s + overdue %(o)s"),
            age=_("%(age)s y"),
            risk=_("risk"),
            purposes={k: str(v) for k, v in Purpose.choices},
            channels={k: str(v) for k, v in Channel.choices},
            sexes={k: str(v) for k, v in Sex.choices},
            tiers={k: str(v) for k, v in Tier.choices},
            lost_word=_("lost risk"),
        )


def _age(birth: date, labels: Labels) -> str:
    """Whole years with the page's word; a baby's months or days as the patient page says."""
    years = age_on(birth, labels.today)
    return labels.age % {"age": years} if years >= 1 else age_text(birth, labels.today)


def row_html(task: Any, labels: Labels) -> SafeString:
    """One row: priority and its parts, patient, follow-up, due (how late, tries), channel,
    assignee. ``task`` is a row of ``ROW_FIELDS``."""
    now, sex, tier = labels.now, task.patient__sex, task.patient__risk_tier
    who = [
        labels.sexes.get(sex, sex),
        _age(task.patient__birth_date, labels),
    ]
    if tier:
        who.append(f"{labels.risk} {labels.tiers.get(tier, tier)}")
    parts = labels.parts % {"a": task.alert_points, "r": task.risk_points, "o": task.overdue_points}
    url = f"{labels.task_url}{task.pk}/"
    late = ""
    if task.deadline < now:
        late = LATE.format(e(labels.overdue), e(timesince(task.deadline, now)))
    n = task.attempts
    lost = ""
    if (score := labels.lost.get(task.patient_id)) is not None:
        chance, factors = score
        lost = LOST.format(
            "bg-danger-lt" if chance >= LOST_HIGH else "bg-secondary-lt",
            e(factors),
            e(labels.lost_word),
            round(chance * 100),
        )
    tries = TRIES.format(e(ngettext("%(n)s try", "%(n)s tries", n) % {"n": n})) if n else ""
    return mark_safe(  # noqa: S308 (every value escaped above or here)
        ROW.format(
            url=e(url),
            pk=task.pk,
            select=e(labels.select),
            badge=badge(task.priority),
            parts=e(parts),
            priority=task.priority,
            name=e(task.patient__name),
            lost=lost,
            who=e(" · ".join(who)),
            title=e(task.title),
            purpose=e(labels.purposes.get(task.purpose, task.purpose)),
            pathway=e(f" · {task.plan__pathway__name}") if task.plan__pathway__name else "",
            due=f"{timezone.localtime(task.due_at):%Y-%m-%d %H:%M}",
            late=late,
            tries=tries,
            channel=e(labels.channels.get(task.channel, task.channel)),
            assignee=e(
                (task.assignee__display_name or task.assignee__username)
                if task.assignee_id
                else labels.team_queue
            ),
        )
    )
