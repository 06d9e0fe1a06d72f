"""Demo history: the follow-ups the demo patients' teams have already done, so the dashboard,
the patient pages and the quality review have something to show. Past-due tasks of the first
``HISTORY_PATIENTS`` demo patients are worked through the same service the task page uses,
at the time each call was made (a few hours after it fell due): most patients reached, some
not answering or busy, and about a quarter of the work left undone, overdue on the worklist."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.utils import timezone

from careloop.demo.people import rng_for
from careloop.followup.forms import answers_form
from careloop.followup.models import Outcome, Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.outreach.transports import AUTOMATED_CHANNELS

HISTORY_PATIENTS = 400  # demo patients 0–399: bounded, so a large demo loads as fast
LEFT_UNDONE = 0.25
OUTCOMES = [(Outcome.REACHED, 0.72), (Outcome.NO_ANSWER, 0.18), (Outcome.BUSY, 0.10)]
MAX_CALLS = 8  # per patient


METHOD = {"clinic": "门诊", "home_visit": "家庭"}  # the national form's 随访方式; else 电话


def _answers(kind: str, channel: str, rng: random.Random) -> dict[str, Any]:
    """What a nurse would have filled in for a reached patient, validated by the task's form."""
    sbp = rng.randint(112, 150)
    filled: dict[str, dict[str, Any]] = {
        "care_guide": {"understood": "on", "topics": ["用药", "饮食", "复诊时间"]},
        "symptom_check": {"symptoms": ["无不适"], "medication_adherence": "规律"},
        "wound": {"wound": "愈合良好", "pain": str(rng.randint(0, 3))},
        "satisfaction": {"score": str(rng.choice([7, 8, 9, 9, 10, 10, 6]))},
    }
    data = filled.get(kind, {})
    if kind in ("htn", "dm"):
        data = {
            "method": METHOD.get(channel, "电话"),
            "sbp": str(sbp),
            "dbp": str(rng.randint(66, min(92, sbp - 30))),
            "symptoms": ["无症状"],
            "medication_adherence": rng.choice(["规律", "规律", "规律", "间断"]),
        }
        if kind == "dm":
            data |= {"fpg": f"{rng.uniform(5.2, 9.4):.1f}", "sample": "venous"}
    form = answers_form(kind, data, prefix="")
    if form is None:
        return {}
    if not form.is_valid():  # the demo's own data: a mistake here is a bug
        raise ValueError(f"demo answers for {kind}: {form.errors.as_json()}")
    return form.answers()


def add_demo_history(indices: list[int], cards: dict[int, str]) -> int:
    """Work through the past-due tasks of the demo patients among ``indices`` (below
    ``HISTORY_PATIENTS``); returns how many calls were recorded."""
    chosen = {cards[i]: i for i in indices if i < HISTORY_PATIENTS}
    if not chosen:
        return 0
    now = timezone.now()
    calls = 0
    tasks = (
        Task.objects.select_related("patient", "assignee")
        .filter(patient__card_number__in=list(chosen), status=Task.Status.OPEN)
        .exclude(channel__in=AUTOMATED_CHANNELS)
    )  # staff calls and visits (messages are sent)
    by_patient: dict[int, str] = dict(tasks.values_list("patient_id", "patient__card_number"))
    for patient_id, card in sorted(by_patient.items()):
        rng = rng_for(chosen[card], "history")
        for _ in range(MAX_CALLS):
            task = (
                tasks.filter(patient_id=patient_id, due_at__lt=now - timedelta(hours=6))
                .order_by("due_at")
                .first()
            )
            if task is None or rng.random() < LEFT_UNDONE:
                break
            at = task.due_at + timedelta(minutes=rng.randint(10, 300))
            outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
            answers = _answers(task.form, task.channel, rng) if outcome == Outcome.REACHED else {}
            actor = task.assignee or task.patient.responsible_doctor
            do_record_attempt(task, actor, Attempt(outcome=outcome, answers=answers), at=at)
            calls += 1
    return calls
