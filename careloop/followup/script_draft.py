"""A follow-up script drafted from the patient's last visit record (F18), for a follow-up
whose pathway step has no script of its own (one added by hand or by a rule, or a step
without words): the opening names the last visit and its diagnoses, the questions follow
from the patient's conditions, the advice from their recent abnormal results and medicines,
the reminder from their next revisit. A draft for the caller to adapt, said so on the page;
the words are Chinese, as spoken to the patient."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from careloop.clinical.models import Condition, Encounter
from careloop.followup.models import Purpose, Task
from careloop.followup.scripts import PART_TITLES, variables

# Questions by the ICD-10 prefixes of a condition, in this order when several apply.
QUESTIONS = (
    (
        ("I10", "I11", "I12", "I13", "I15"),
        "最近血压量了吗？一般在多少？有没有头晕、头痛、视物模糊？",
    ),
    (
        ("E10", "E11", "E12", "E13", "E14"),
        "最近空腹和餐后血糖大概多少？有没有心慌、出冷汗、手抖这类低血糖的情况？",
    ),
    (("I50",), "最近有没有气短、夜里憋醒、躺不平？脚踝肿不肿？这几天体重有没有突然增加？"),
    (
        ("I20", "I21", "I22", "I23", "I24", "I25"),
        "最近有没有胸闷、胸痛？活动或情绪激动后会不会加重，休息后能不能缓解？",
    ),
    (("I63", "I64", "I69"), "手脚活动和说话怎么样？有没有新出现的麻木、无力、口角歪斜？"),
    (("J44",), "咳嗽、咳痰、气喘最近怎么样？有没有加重或者发热？"),
    (("N18",), "最近小便的量和颜色怎么样？有没有浮肿？"),
    (("E78",), "降脂药在按时吃吗？有没有肌肉酸痛、乏力？"),
)
ALWAYS_ASKED = "药都按时吃了吗？有没有漏服或者自己停药？最近还有哪里不舒服吗？"
LIFESTYLE = ("I10", "I11", "I12", "I13", "I15", "E10", "E11", "E12", "E13", "E14", "E78")
VISITED = {
    Encounter.Kind.OUTPATIENT: "就诊",
    Encounter.Kind.EMERGENCY: "看急诊",
    Encounter.Kind.EXAM: "体检",
    Encounter.Kind.HOME_VISIT: "接受上门随访",
}


def _last_visit(patient: Any) -> Encounter | None:
    return (
        Encounter.objects.filter(patient=patient)
        .exclude(status__in=[Encounter.Status.PLANNED, Encounter.Status.CANCELLED])
        .select_related("organisation")
        .order_by("-started_at", "-pk")
        .first()
    )


def _visit_sentence(visit: Encounter, diagnoses: list[str]) -> str:
    place = visit.department or (visit.organisation.name if visit.organisation else "医院")
    if visit.kind == Encounter.Kind.INPATIENT:
        day = timezone.localtime(visit.ended_at or visit.started_at)
        what = f"从{place}出院" if visit.ended_at else f"在{place}住院"
    else:
        day = timezone.localtime(visit.started_at)
        what = f"在{place}{VISITED.get(Encounter.Kind(visit.kind), '就诊')}"
    told = f"，诊断是{'、'.join(diagnoses)}" if diagnoses else ""
    return f"您{day:%-m月%-d日}{what}{told}。"


def _coming(task: Task, when: str) -> str:
    """The reminder of what comes next: a revisit (复诊) when the next date is a revisit
    reminder's, else the programme's next follow-up."""
    if not when:
        return ""
    revisit = (
        Task.objects.filter(
            patient_id=task.patient_id,
            purpose=Purpose.REVISIT_REMINDER,
            status=Task.Status.OPEN,
            due_at__gt=timezone.now(),
        )
        .exclude(pk=task.pk)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    if revisit is not None and f"{timezone.localtime(revisit):%-m月%-d日}" == when:
        return f"您下次复诊在{when}之前，记得带上病历和检查结果。"
    return f"下次随访在{when}之前，我们会提前联系您。"


def draft_script(task: Task, staff: Any) -> list[tuple[str, str]]:
    """The draft as (part title, text), in the order of a pathway's script."""
    patient = task.patient
    known = variables(task, staff)
    visit = _last_visit(patient)
    conditions = list(
        Condition.objects.filter(patient=patient, clinical_status=Condition.ClinicalStatus.ACTIVE)
        .order_by("-recorded_at", "-pk")
        .values_list("icd10_code", "name", "encounter_id")
    )
    at_visit = [name for _, name, encounter in conditions if visit and encounter == visit.pk]
    codes = [code.upper() for code, _, _ in conditions]

    caller = f"{known['hospital']}{known['department']}的{known['staff']}"
    opening = f"{known['salutation']}您好，我是{caller}。"
    if visit is not None:
        opening += _visit_sentence(visit, list(dict.fromkeys(at_visit))[:3])
    opening += "今天给您打电话，想了解一下您最近的情况，大概占用您几分钟。"
    questions = [text for prefixes, text in QUESTIONS if any(c.startswith(prefixes) for c in codes)]
    advice = []
    if not known["abnormal_items"].startswith("（"):  # "（无近期异常结果）": none
        advice.append(f"最近检查中{known['abnormal_items']}有异常，请按医生的建议按时复查。")
    advice.append(known["medication_timing"])
    if any(c.startswith(LIFESTYLE) for c in codes):
        advice.append("平时饮食清淡、少盐少油，适量活动，戒烟限酒，保证睡眠。")
    parts = {
        "opening": opening,
        "questions": "".join([*questions, ALWAYS_ASKED]),
        "advice": "".join(advice),
        "revisit": _coming(task, known["next_revisit"]),
        "closing": f"感谢您的配合。如有不适请及时就医，也可以随时联系{known['hospital']}随访中心。",
    }
    return [(str(PART_TITLES[part]), text) for part, text in parts.items() if text]
