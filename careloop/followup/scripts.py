"""Personalised scripts (话术): a node's opening, questions, advice, revisit reminder and
closing, rendered with the patient's variables. Variables (Django template language):

    salutation   称呼: 张阿姨, 李叔叔, 王先生 …          name          the patient's name
    hospital     the organisation at the top             department    the patient's department
    staff        the person calling                      discharge_date  the plan's discharge day
    next_revisit the next revisit reminder or programme visit
    medication_timing  the patient's medicines and when to take them
    abnormal_items     recent abnormal results
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from careloop.accounts.models import Organisation
from careloop.followup.definition import SCRIPT_PARTS
from careloop.followup.models import Plan, Purpose, Task
from careloop.followup.models.pathways import TriggerKind
from careloop.followup.pathways import definition_of

COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
    "司徒",
    "夏侯",
    "长孙",
)
PART_TITLES = {
    "opening": pgettext_lazy("script part", "Opening"),
    "questions": pgettext_lazy("script part", "Questions"),
    "advice": pgettext_lazy("script part", "Advice"),
    "revisit": pgettext_lazy("script part", "Revisit reminder"),
    "closing": pgettext_lazy("script part", "Closing"),
}
_engine = Engine(autoescape=True)


def template_error(text: str) -> str:
    """Why ``text`` does not compile as a script template, or "" when it does."""
    try:
        _engine.from_string(text)
    except TemplateSyntaxError as exc:
        return str(exc)
    return ""


def surname(name: str) -> str:
    return name[:2] if name.startswith(COMPOUND_SURNAMES) else name[:1]


def salutation(name: str, sex: str, age: int) -> str:
    """How a nurse addresses the patient: 张爷爷/张奶奶 (70+), 张叔叔/张阿姨 (45–69),
    张先生/张女士 (younger)."""
    family = surname(name)
    male = sex == "male"
    if age >= 70:
        return family + ("爷爷" if male else "奶奶")
    if age >= 45:
        return family + ("叔叔" if male else "阿姨")
    return family + ("先生" if male else "女士")


def _medication_timing(patient: Any, at: datetime | None = None) -> str:
    taken = patient.medications.filter(stopped_on__isnull=True)
    if at is not None:  # as they were then: recorded by then, not stopped before that day
        day = timezone.localdate(at)
        taken = patient.medications.filter(
            Q(stopped_on__isnull=True) | Q(stopped_on__gt=day), recorded_at__lte=at
        )
    medicines = [
        f"{m.name}{('（' + m.frequency + '）') if getattr(m, 'frequency', '') else ''}"
        for m in taken[:4]
    ]
    return f"请按时服用{'、'.join(medicines)}。" if medicines else "请按医嘱按时服药。"


def variables(task: Task, staff: Any, at: datetime | None = None) -> dict[str, Any]:
    """The script's variables now, or ``at`` a past moment (a call a supervisor reviews: the
    script as it read then, not with the visit that call has planned since)."""
    patient = task.patient
    now = at or timezone.now()
    organisation = patient.organisation
    root_pk = organisation.lineage[0]
    top = organisation if root_pk == organisation.pk else Organisation.objects.get(pk=root_pk)
    plan: Plan | None = task.plan
    # The next revisit reminder; in a programme (hypertension, diabetes) also the plan's own
    # next visit, whichever comes first: its script says "下次随访在…之前".
    coming = Q(purpose=Purpose.REVISIT_REMINDER)
    if plan is not None and plan.pathway.trigger in (TriggerKind.DIAGNOSIS, TriggerKind.PROGRAMME):
        coming |= Q(plan=plan)
    upcoming = Task.objects.filter(coming, patient=patient, status=Task.Status.OPEN)
    if at is not None:  # open then: made before it, not closed by then
        upcoming = Task.objects.filter(coming, patient=patient, created_at__lt=at).filter(
            Q(status=Task.Status.OPEN) | Q(closed_at__gt=at)
        )
    next_revisit = (
        upcoming.filter(due_at__gt=now)
        .exclude(pk=task.pk)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    flagged = patient.observations.filter(
        effective_at__gte=now - timedelta(days=90), interpretation__in=["H", "L", "HH", "LL"]
    )
    if at is not None:  # not those the call itself stored (its blood pressure, say)
        flagged = flagged.filter(effective_at__lt=at)
    abnormal = list(flagged.order_by("-effective_at").values_list("name", flat=True)[:20])
    return {
        "salutation": salutation(patient.name, patient.sex, patient.age),
        "name": patient.name,
        "hospital": top.name,
        "department": organisation.name if organisation != top else "",
        "staff": getattr(staff, "display_name", "") or str(staff),
        "discharge_date": (
            f"{timezone.localtime(plan.anchor):%-m月%-d日}"
            if plan is not None and plan.trigger == "discharge"
            else ""
        ),
        "next_revisit": f"{timezone.localtime(next_revisit):%-m月%-d日}" if next_revisit else "",
        "medication_timing": _medication_timing(patient, at),
        "abnormal_items": "、".join(dict.fromkeys(abnormal)) or "（无近期异常结果）",
    }


def render_script(task: Task, staff: Any, at: datetime | None = None) -> list[tuple[str, str]]:
    """The task's script as (part title, text) in order; parts left empty are skipped. A
    template that does not render shows as written, so a typo never hides the script.
    ``at``: as it read at that moment (see ``variables``)."""
    if task.plan is None:
        return []
    node = definition_of(task.plan.version).node(task.node)
    if node is None or not node.script:
        return []
    context = Context(variables(task, staff, at))
    parts = []
    for part in SCRIPT_PARTS:
        text = node.script.get(part, "")
        if not text:
            continue
        try:
            rendered = str(_engine.from_string(text).render(context))
        except TemplateSyntaxError:
            rendered = text
        parts.append((str(PART_TITLES[part]), rendered.strip()))
    return parts
