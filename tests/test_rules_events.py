"""Rules on follow-up outcomes (trigger "task_outcome"), and dry runs of reply,
questionnaire and outcome rules replaying the stored events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from careloop.followup.models import Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.outreach.replies import receive
from careloop.patients.models import PatientTag
from careloop.questionnaires.services import current, load_pack, submit
from careloop.rules.engine import compile_rule, dry_run
from careloop.rules.models import Rule, RuleFiring
from careloop.rules.services import do_save_rule

pytestmark = pytest.mark.django_db


def save(code: str, trigger: str, condition: dict, tag: str) -> Rule:
    rule, _ = do_save_rule(
        None,
        code,
        {
            "name": code,
            "enabled": True,
            "trigger": trigger,
            "condition": condition,
            "actions": [{"type": "tag", "tag": tag}],
        },
    )
    return rule


def open_task(patient: Any) -> Task:
    now = timezone.now()
    return Task.objects.create(
        patient=patient,
        organisation=patient.organisation,
        title="出院随访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=now,
        deadline=now + timedelta(days=1),
    )


def test_a_wrong_number_fires_the_outcome_rule(hospital: Any, patient_factory: Any) -> None:
    save(
        "wrong-number",
        "task_outcome",
        {"kind": "outcome", "outcomes": ["wrong_number"]},
        "需核实电话",
    )
    patient = patient_factory(organisation=hospital)
    do_record_attempt(open_task(patient), None, Attempt(outcome="no_answer"))
    assert not RuleFiring.objects.exists()
    do_record_attempt(open_task(patient), None, Attempt(outcome="wrong_number"))
    firing = RuleFiring.objects.get()
    assert firing.trigger == "task_outcome"
    assert firing.reasons == ["随访结果为“号码错误”，属于号码错误"]
    assert PatientTag.objects.filter(patient=patient, tag__name="需核实电话").exists()


def test_dry_runs_replay_replies_answers_and_outcomes(hospital: Any, patient_factory: Any) -> None:
    load_pack()
    one = patient_factory(organisation=hospital, phone="13900000001")
    two = patient_factory(organisation=hospital, phone="13900000002")
    receive("sms", "这两天胸口疼", provider="outbox", sender="13900000001")
    receive("sms", "挺好的，没有胸痛", provider="outbox", sender="13900000002")
    submit(current("gad7"), two, {f"q{n}": "3" for n in range(1, 8)}, source="staff")
    do_record_attempt(open_task(one), None, Attempt(outcome="refused"))
    reply = save("chest", "reply", {"kind": "symptom", "symptom": "胸痛胸闷"}, "x")
    answer = save(
        "gad-high",
        "questionnaire",
        {"kind": "answer", "questionnaire": "gad7", "item": "q1", "op": ">=", "value": "3"},
        "y",
    )
    outcome = save("refused", "task_outcome", {"kind": "outcome", "outcomes": ["refused"]}, "z")
    found = {
        rule.code: [m.patient_id for m in dry_run(compile_rule(rule), days=7)]
        for rule in (reply, answer, outcome)
    }
    assert found == {"chest": [one.pk], "gad-high": [two.pk], "refused": [one.pk]}
