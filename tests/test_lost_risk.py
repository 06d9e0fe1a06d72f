"""The lost-to-follow-up model (失访风险, F6): trained on the system's own closed follow-ups,
refused when it cannot be trusted, scores shown on the patient page and the worklist
(without touching the priority), readable by rules, and the `careloop lost-risk` command."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from careloop.followup import lost_risk
from careloop.followup.models import (
    FollowUpRecord,
    LostRiskModel,
    LostRiskScore,
    Outcome,
    Task,
)
from careloop.rules.conditions import Facts, RuleError, compile_condition
from careloop.rules.engine import _living
from tests.factories import PatientFactory
from tests.test_patients_web import logged_in


def _history(organisation: Any, patients: int, *, signal: bool, seed: int = 3) -> list[Any]:
    """One closed follow-up per patient over the last 300 days: with ``signal``, those who
    live alone with low digital literacy are mostly not reached (60%), the others rarely
    (10%); without, everyone at 30%."""
    rng = random.Random(seed)
    now = timezone.now()
    people, tasks = [], []
    for i in range(patients):
        alone = i % 2 == 0
        patient = PatientFactory(
            organisation=organisation,
            lives_alone=alone,
            digital_literacy="low" if alone else "medium",
        )
        people.append(patient)
        lost = rng.random() < ((0.6 if alone else 0.1) if signal else 0.3)
        began = now - timedelta(days=300 - i * 290 / patients, hours=rng.randint(0, 12))
        tasks.append(
            Task(
                patient=patient,
                organisation=organisation,
                title="随访",
                purpose="condition_tracking",
                channel="phone",
                channels=["phone"],
                due_at=began,
                deadline=began + timedelta(days=2),
                created_at=began,
                closed_at=began + timedelta(days=1),
                status=Task.Status.FAILED if lost else Task.Status.DONE,
                outcome=Outcome.NO_ANSWER if lost else Outcome.REACHED,
            )
        )
    Task.objects.bulk_create(tasks)
    FollowUpRecord.objects.bulk_create(
        FollowUpRecord(
            task=t, patient=t.patient, channel="phone", outcome=t.outcome, at=t.closed_at
        )
        for t in tasks
    )
    return people


def _open_task(patient: Any, **fields: Any) -> Task:
    now = timezone.now()
    return Task.objects.create(
        patient=patient,
        organisation=patient.organisation,
        title="高血压随访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=now - timedelta(hours=1),
        deadline=now + timedelta(days=1),
        **fields,
    )


def test_the_model_learns_who_is_not_reached_and_scores_open_follow_ups(hospital: Any) -> None:
    people = _history(hospital, 260, signal=True)
    model = lost_risk.train()
    assert model.used, model.why
    assert model.n_train + model.n_test == 260 and model.n_test == 52
    assert model.auc is not None and model.auc >= 0.7
    assert 0.2 < (model.base_rate or 0) < 0.5
    assert len(model.calibration) == 10 and sum(g["n"] for g in model.calibration) == 52
    weights = dict(zip(model.features, model.coefficients, strict=True))
    assert weights["lives_alone"] > 0.3 or weights["literacy_low"] > 0.3
    # Scoring: only patients with open follow-ups; one living alone, one not.
    alone, with_family = people[0], people[1]
    _open_task(alone)
    _open_task(with_family)
    result = lost_risk.score()
    assert result["scored"] == 2 and result["used"]
    high = LostRiskScore.objects.get(patient=alone)
    low = LostRiskScore.objects.get(patient=with_family)
    assert high.probability > 0.4 > 0.2 > low.probability
    assert {"独居", "数字素养低"} & set(high.factors_shown), high.factors_shown
    assert "独居" not in low.factors_shown


def test_too_few_follow_ups_are_refused_and_no_patient_is_scored(hospital: Any) -> None:
    people = _history(hospital, 60, signal=True)
    _open_task(people[0])
    model = lost_risk.train()
    assert not model.used
    assert "60" in model.why and "200" in model.why
    result = lost_risk.score()
    assert result == {"scored": 0, "used": False, "why": model.why}
    assert not LostRiskScore.objects.exists()


def test_history_without_signal_is_refused_not_faked(hospital: Any) -> None:
    _history(hospital, 240, signal=False, seed=11)
    model = lost_risk.train()
    assert model.auc is not None and model.auc < lost_risk.MIN_AUC
    assert not model.used and "AUC" in model.why


def test_the_command_prints_the_training_as_json(hospital: Any) -> None:
    _history(hospital, 30, signal=True)
    out = StringIO()
    call_command("lost_risk", "train", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["trained_on"] == 30
    assert printed["used"] is False and "200" in printed["why"]
    assert set(printed) >= {"trained_on", "auc", "base_rate", "used", "why"}
    out = StringIO()
    call_command("lost_risk", "score", stdout=out)
    assert json.loads(out.getvalue())["used"] is False


def _scored(patient: Any, chance: float) -> LostRiskScore:
    model = LostRiskModel.objects.create(version=lost_risk.VERSION, used=True, auc=0.72)
    return LostRiskScore.objects.create(
        patient=patient,
        model=model,
        probability=chance,
        factors=[["not_reached_year", 3], ["lives_alone", 1], ["literacy_low", 1]],
    )


def test_the_worklist_shows_the_badge_without_changing_the_priority(
    hospital: Any, alice: Any, team: Any
) -> None:
    alice.teams.add(team)
    patient = PatientFactory(name="孙独居", organisation=hospital, care_team=team)
    _open_task(patient, team=team)
    before = logged_in(alice).get("/worklist/?scope=team&section=all")
    [row] = before.context["page"].object_list
    assert 'data-testid="lost-risk"' not in before.content.decode()
    _scored(patient, 0.62)
    page = logged_in(alice).get("/worklist/?scope=team&section=all")
    [again] = page.context["page"].object_list
    assert again.priority == row.priority
    html = page.content.decode()
    assert 'data-testid="lost-risk"' in html and "失访风险 62%" in html
    assert "近一年 3 次未接通；独居；数字素养低" in html


def test_the_patient_page_shows_the_chance_and_its_factors(hospital: Any, alice: Any) -> None:
    patient = PatientFactory(organisation=hospital)
    _scored(patient, 0.62)
    html = logged_in(alice).get(f"/patients/{patient.pk}/").content.decode()
    assert 'data-testid="lost-risk"' in html
    assert "62%" in html and "主要因素：近一年 3 次未接通；独居；数字素养低" in html


def test_a_rule_can_ask_for_a_high_lost_to_follow_up_risk(hospital: Any) -> None:
    condition = compile_condition({"kind": "lost_risk", "at_least": 0.5})
    now = timezone.now()
    assert condition.evaluate(Facts(now=now, lost_risk=0.62)).matched
    assert not condition.evaluate(Facts(now=now, lost_risk=0.3)).matched
    assert not condition.evaluate(Facts(now=now)).matched
    for wrong in (1.5, 0, "high"):
        with pytest.raises(RuleError) as refused:
            compile_condition({"kind": "lost_risk", "at_least": wrong})
        assert refused.value.path == "condition.at_least"
    patient = PatientFactory(organisation=hospital)
    _scored(patient, 0.62)
    assert _living([patient.pk])[patient.pk]["lost_risk"] == 0.62


def test_a_landline_alone_counts_as_no_mobile_number(hospital: Any) -> None:
    mobile = PatientFactory(organisation=hospital)
    landline = PatientFactory(organisation=hospital, phone="010-62345678")
    none = PatientFactory(organisation=hospital, phone="")
    facts = lost_risk._facts([mobile.pk, landline.pk, none.pk], timezone.now())
    assert facts[mobile.pk].has_phone
    assert not facts[landline.pk].has_phone  # no SMS reaches it: "no mobile number on record"
    assert not facts[none.pk].has_phone
